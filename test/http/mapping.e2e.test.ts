import path from 'node:path';
import { expectListResponse, expectScimError } from '../support/scim';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';

// Every attribute class of a mapping file round-trips over HTTP through the Kit sandbox, exactly
// (strings, booleans, integers, decimals, dateTimes, values chosen by type, whole complex values as JSON,
// enterprise and custom extension attributes), filters and attributes work on them, and discovery lists them.

const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const MAPPING = path.resolve(__dirname, '../fixtures/mapping/every-class.yaml');

const addresses = [
  {
    type: 'work',
    streetAddress: '4939 Hess Fork',
    locality: 'East Mercedes',
    region: 'Montana',
    postalCode: '99265',
    country: 'Germany',
    formatted: '1923 Jennifer Way\nSouth Nancy, MI 55645',
    primary: true,
  },
  { type: 'home', country: 'Bahamas' },
];

function fullUser(email: string, extra: Record<string, unknown> = {}) {
  return oktaUser(email, {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, ACME],
    name: { givenName: 'Ada', familyName: 'Lovelace', formatted: 'Ada King, Countess of Lovelace' },
    addresses,
    phoneNumbers: [
      { type: 'work', value: '+44 20 7946 0000' },
      { type: 'mobile', value: '+44 7700 900000' },
    ],
    locale: 'en-GB',
    [ENTERPRISE]: { costCenter: 'CC-1815', manager: { value: 'babbage-1' } },
    [ACME]: {
      costCentre: 'R&D-42',
      vip: true,
      level: 7,
      fte: 0.75,
      startDate: '1843-07-10T09:30:00Z',
      badges: ['b1', 'b2'],
    },
    ...extra,
  });
}

describe('attribute mapping from SCIM_MAPPING_FILE', () => {
  let h: Harness;
  let id: string;

  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_MAPPING_FILE: MAPPING } });
    const res = await h.post('/scim/v2/Users', fullUser('ada@example.com'));
    expect(res.status).toBe(201);
    id = res.body.id;
    const other = await h.post(
      '/scim/v2/Users',
      fullUser('grace@example.com', { [ACME]: { costCentre: 'OPS-1', vip: false, level: 3 } }),
    );
    expect(other.status).toBe(201);
  });
  afterAll(() => h.close());

  it('round-trips every attribute class exactly, each in its own Kit field', async () => {
    const res = await h.get(`/scim/v2/Users/${id}`);
    expect(res.status).toBe(200);
    const u = res.body;
    expect(u.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace', formatted: 'Ada King, Countess of Lovelace' });
    expect(u.addresses).toEqual(addresses);
    expect(u.phoneNumbers).toEqual([
      { type: 'work', value: '+44 20 7946 0000' },
      { type: 'mobile', value: '+44 7700 900000' },
    ]);
    expect(u.locale).toBe('en-GB');
    expect(u[ENTERPRISE]).toEqual({ costCenter: 'CC-1815', manager: { value: 'babbage-1' } });
    expect(u[ACME]).toEqual({
      costCentre: 'R&D-42',
      vip: true,
      level: 7,
      fte: 0.75,
      // scimmy reads a dateTime as an instant and writes it in ISO 8601 with milliseconds: the same instant.
      startDate: '1843-07-10T09:30:00.000Z',
      badges: ['b1', 'b2'],
    });
    expect(u.schemas).toEqual(expect.arrayContaining([ENTERPRISE, ACME]));
    // What Kit holds: text, complex values as compact JSON.
    const fields = (await h.sandbox.store.getSubscriber(Number(id)))!.fields as Record<string, string | null>;
    expect(fields.acme_vip).toBe('true');
    expect(fields.acme_level).toBe('7');
    expect(fields.acme_fte).toBe('0.75');
    expect(fields.acme_start_date).toBe(u[ACME].startDate);
    expect(JSON.parse(fields.acme_badges!)).toEqual(['b1', 'b2']);
    expect(JSON.parse(fields.t_addresses!)).toEqual(addresses);
    expect(fields.t_addresses).not.toMatch(/\n\s|": /);
  });

  it('applies PATCH to mapped attributes, typed values and values chosen by type included', async () => {
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch(
        { op: 'replace', path: `${ACME}:level`, value: 8 },
        { op: 'replace', path: 'phoneNumbers[type eq "work"].value', value: '+44 20 7946 1111' },
        { op: 'replace', path: 'name.formatted', value: 'Augusta Ada King' },
      ),
    );
    expect(res.status).toBe(200);
    const read = await h.get(`/scim/v2/Users/${id}`);
    expect(read.body[ACME].level).toBe(8);
    expect(read.body.phoneNumbers).toContainEqual({ type: 'work', value: '+44 20 7946 1111' });
    expect(read.body.name.formatted).toBe('Augusta Ada King');
  });

  it('filters on custom extension, enterprise, typed-value and complex attributes', async () => {
    const byCentre = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`${ACME}:costCentre eq "r&d-42"`)}`),
      1,
    );
    expect(byCentre[0].id).toBe(id);
    const byLevel = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`${ACME}:level gt 5`)}`),
      1,
    );
    expect(byLevel[0].id).toBe(id);
    const notVip = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`${ACME}:vip eq false`)}`),
      1,
    );
    expect(notVip[0].userName).toBe('grace@example.com');
    expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('addresses.country eq "Germany"')}`), 2);
    expectListResponse(
      await h.get(
        `/scim/v2/Users?filter=${encodeURIComponent('phoneNumbers[type eq "work" and value sw "+44 20 7946 1"]')}`,
      ),
      1,
    );
    expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`${ENTERPRISE}:costCenter eq "CC-1815"`)}`),
      2,
    );
    // Attributes the mapping gives no home are still refused by name.
    expectScimError(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent('nickName eq "x"')}`),
      400,
      'invalidFilter',
    );
  });

  it('honours attributes and excludedAttributes on mapped attributes', async () => {
    const only = await h.get(`/scim/v2/Users/${id}?attributes=${encodeURIComponent(`${ACME}:level,locale`)}`);
    expect(only.status).toBe(200);
    expect(only.body[ACME]).toEqual({ level: 8 });
    expect(only.body.locale).toBe('en-GB');
    expect(only.body.addresses).toBeUndefined();
    const without = await h.get(`/scim/v2/Users/${id}?excludedAttributes=addresses,phoneNumbers`);
    expect(without.body.addresses).toBeUndefined();
    expect(without.body.phoneNumbers).toBeUndefined();
    expect(without.body.locale).toBe('en-GB');
  });

  it('describes the mapped attributes and the custom extension in /Schemas and /ResourceTypes', async () => {
    const acme = await h.get(`/scim/v2/Schemas/${ACME}`);
    expect(acme.status).toBe(200);
    expect(acme.body.name).toBe('AcmeUser');
    expect(acme.body.attributes.map((a: any) => [a.name, a.type, a.multiValued])).toEqual([
      ['costCentre', 'string', false],
      ['vip', 'boolean', false],
      ['level', 'integer', false],
      ['fte', 'decimal', false],
      ['startDate', 'dateTime', false],
      ['badges', 'string', true],
    ]);
    const core = await h.get('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    const names = core.body.attributes.map((a: any) => a.name);
    expect(names).toEqual(expect.arrayContaining(['addresses', 'phoneNumbers', 'locale']));
    expect(names).not.toContain('nickName');
    const phone = core.body.attributes.find((a: any) => a.name === 'phoneNumbers');
    expect(phone.subAttributes.map((s: any) => s.name).sort()).toEqual(['type', 'value']);
    const name = core.body.attributes.find((a: any) => a.name === 'name');
    expect(name.subAttributes.map((s: any) => s.name).sort()).toEqual(['familyName', 'formatted', 'givenName']);
    const types = await h.get('/scim/v2/ResourceTypes/User');
    expect(types.body.schemaExtensions).toEqual(
      expect.arrayContaining([
        { schema: ENTERPRISE, required: false },
        { schema: ACME, required: false },
      ]),
    );
  });

  it('refuses a value too long for a Kit field with a 400 naming the attribute, before any Kit call', async () => {
    const long = 'x'.repeat(2001);
    const { result, total } = await h.kitCalls(() =>
      h.post('/scim/v2/Users', fullUser('long@example.com', { name: { givenName: 'L', formatted: long } })),
    );
    expectScimError(result, 400, 'invalidValue');
    expect(result.body.detail).toContain('name.formatted');
    expect(result.body.detail).toContain('2000');
    expect(total).toBe(0);
    // On a PATCH: refused after the read, and nothing is written.
    const { result: patched, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: `${ACME}:costCentre`, value: long })),
    );
    expectScimError(patched, 400, 'invalidValue');
    expect(patched.body.detail).toContain(`${ACME}:costCentre`);
    expect(byEndpoint['PUT /v4/subscribers/:id'] ?? 0).toBe(0);
    expect((await h.get(`/scim/v2/Users/${id}`)).body[ACME].costCentre).toBe('R&D-42');
  });

  it('refuses a value of the wrong type for a typed extension attribute', async () => {
    const res = await h.post('/scim/v2/Users', fullUser('typed@example.com', { [ACME]: { level: 'seven' } }));
    expectScimError(res, 400, 'invalidValue');
  });
});

describe('a required custom extension', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { SCIM_MAPPING_FILE: path.resolve(__dirname, '../fixtures/mapping/required-extension.yaml') },
    });
  });
  afterAll(() => h.close());

  it('is listed as required in /ResourceTypes and a User without it is refused before any Kit call', async () => {
    const types = await h.get('/scim/v2/ResourceTypes/User');
    expect(types.body.schemaExtensions).toContainEqual({ schema: ACME, required: true });
    const { result, total } = await h.kitCalls(() =>
      h.post('/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'a@example.com' }),
    );
    expectScimError(result, 400, 'invalidValue');
    expect(result.body.detail).toContain(ACME);
    expect(total).toBe(0);
    const ok = await h.post('/scim/v2/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ACME],
      userName: 'b@example.com',
      [ACME]: { costCentre: 'X-1' },
    });
    expect(ok.status).toBe(201);
    expect((await h.get(`/scim/v2/Users/${ok.body.id}`)).body[ACME]).toEqual({ costCentre: 'X-1' });
  });
});
