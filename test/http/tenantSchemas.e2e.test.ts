import path from 'node:path';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';

// Two Services in one process, each with its own mapping, each against its own Kit sandbox. Each
// describes, accepts and refuses User attributes by its own mapping, with requests to both in flight at once,
// whichever Service was built last (the one scimmy's process-wide registry was last declared with).

const EVERY_CLASS = path.resolve(__dirname, '../fixtures/mapping/every-class.yaml');
const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const PHONES = [{ type: 'work', value: '+44 20 7946 0000' }];

const coreAttributes = (res: { body: any }) =>
  res.body.Resources.find((s: any) => s.id === 'urn:ietf:params:scim:schemas:core:2.0:User').attributes.map(
    (a: any) => a.name,
  );

describe('two Services with different mappings in one process', () => {
  let plain: Harness;
  let mapped: Harness;

  beforeAll(async () => {
    // The mapped one is built first: the default one is the last to declare scimmy's registry.
    mapped = await startHarness({ env: { SCIM_MAPPING_FILE: EVERY_CLASS } });
    plain = await startHarness();
  });
  afterAll(async () => {
    await plain?.close();
    await mapped?.close();
  });

  it('each lists its own User schema and extensions in /Schemas and /ResourceTypes', async () => {
    const [plainSchemas, mappedSchemas, plainType, mappedType] = await Promise.all([
      plain.get('/scim/v2/Schemas'),
      mapped.get('/scim/v2/Schemas'),
      plain.get('/scim/v2/ResourceTypes/User'),
      mapped.get('/scim/v2/ResourceTypes/User'),
    ]);
    expect(plainSchemas.status).toBe(200);
    expect(coreAttributes(plainSchemas)).not.toContain('phoneNumbers');
    expect(coreAttributes(mappedSchemas)).toEqual(expect.arrayContaining(['phoneNumbers', 'addresses', 'locale']));
    expect(plainSchemas.body.Resources.map((s: any) => s.id)).not.toContain(ACME);
    expect(mappedSchemas.body.Resources.map((s: any) => s.id)).toContain(ACME);
    expect(mappedSchemas.body.totalResults).toBe(plainSchemas.body.totalResults + 1);
    expect(mappedType.body.schemaExtensions).toContainEqual({ schema: ACME, required: false });
    expect(plainType.body.schemaExtensions.map((e: any) => e.schema)).not.toContain(ACME);
    expect((await plain.get(`/scim/v2/Schemas/${ACME}`)).status).toBe(404);
    expect((await mapped.get(`/scim/v2/Schemas/${ACME}`)).status).toBe(200);
  });

  it('each keeps, patches, filters on and selects the attributes its own mapping maps', async () => {
    const [plainCreated, mappedCreated] = await Promise.all([
      plain.post('/scim/v2/Users', oktaUser('ada@example.com', { phoneNumbers: PHONES })),
      mapped.post('/scim/v2/Users', oktaUser('ada@example.com', { phoneNumbers: PHONES })),
    ]);
    expect(plainCreated.status).toBe(201);
    expect(mappedCreated.status).toBe(201);
    // An attribute the schema does not declare is ignored on the way in (scimmy's coercion), not stored.
    expect(plainCreated.body.phoneNumbers).toBeUndefined();
    expect(mappedCreated.body.phoneNumbers).toEqual(PHONES);

    const mobile = { op: 'add', path: 'phoneNumbers', value: [{ type: 'mobile', value: '+44 7700 900000' }] };
    const [plainPatched, mappedPatched] = await Promise.all([
      plain.patch(`/scim/v2/Users/${plainCreated.body.id}`, patch(mobile)),
      mapped.patch(`/scim/v2/Users/${mappedCreated.body.id}`, patch(mobile)),
    ]);
    // An RFC 7643 attribute the plain mapping does not hold: ignored, as on the way in (SCIM_UNMAPPED_ATTRIBUTES).
    expect(plainPatched.status).toBe(200);
    expect(plainPatched.body.phoneNumbers).toBeUndefined();
    expect(mappedPatched.status).toBe(200);
    expect(mappedPatched.body.phoneNumbers).toEqual([...PHONES, { type: 'mobile', value: '+44 7700 900000' }]);

    const filter = `/scim/v2/Users?filter=${encodeURIComponent('phoneNumbers.value pr')}`;
    const [plainFiltered, mappedFiltered] = await Promise.all([plain.get(filter), mapped.get(filter)]);
    expect(plainFiltered.status).toBe(400);
    expect(mappedFiltered.status).toBe(200);
    expect(mappedFiltered.body.totalResults).toBe(1);

    const [plainSelected, mappedSelected] = await Promise.all([
      plain.get(`/scim/v2/Users/${plainCreated.body.id}?attributes=phoneNumbers`),
      mapped.get(`/scim/v2/Users/${mappedCreated.body.id}?attributes=phoneNumbers`),
    ]);
    expect(plainSelected.status).toBe(200);
    expect(plainSelected.body.phoneNumbers).toBeUndefined();
    expect(mappedSelected.body.phoneNumbers).toHaveLength(2);
  });
});
