import path from 'node:path';
import { EXPECT } from '../support/backends';
import { type Harness, oktaUser, startHarness } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectScimError, scimFixture } from '../support/scim';
import { auditedHarness } from '../support/auditTrail';
import { unique } from '../support/unique';

// The PATCH shapes Entra ID and Okta really send, each replayed from a fixture named after the client that sends
// it, against the shipped Entra mapping (mapping/entra-validator.yaml: manager.value, phone numbers by type,
// addresses, locale).

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ENTRA_MAPPING = path.resolve(__dirname, '../../mapping/entra-validator.yaml');

const fixture = (client: 'entra' | 'okta', name: string) => scimFixture(client, `${name}.json`);

describe('Users: Entra ID PATCH shapes (mapping/entra-validator.yaml)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_MAPPING_FILE: ENTRA_MAPPING } });
  });
  afterAll(() => h.close());

  const newUser = async (extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await h.post('/scim/v2/Users', oktaUser(`shape.${unique()}@contoso.example`, extra));
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const patchWith = async (id: string, client: 'entra' | 'okta', name: string) =>
    h.patch(`/scim/v2/Users/${id}`, fixture(client, name));

  it('adds the manager sent as a plain string (its id, RFC 7643 §4.3 manager.value)', async () => {
    const id = await newUser();
    const res = await patchWith(id, 'entra', 'manager-add-string');
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toMatchObject({ manager: { value: '7' } });
    expect((await h.get(`/scim/v2/Users/${id}`)).body[ENTERPRISE].manager).toEqual({ value: '7' });
  });

  it('adds the manager sent as an object', async () => {
    const id = await newUser();
    const res = await patchWith(id, 'entra', 'manager-add-object');
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE].manager).toEqual({ value: '7' });
  });

  it('replaces the manager sent as a plain string, then removes it (with and without a value)', async () => {
    const id = await newUser({ [ENTERPRISE]: { manager: { value: '7' } } });
    const replaced = await patchWith(id, 'entra', 'manager-replace-string');
    expect(replaced.status).toBe(200);
    expect(replaced.body[ENTERPRISE].manager).toEqual({ value: '8' });
    const removed = await patchWith(id, 'entra', 'manager-remove-with-value');
    expect(removed.status).toBe(200);
    expect(removed.body[ENTERPRISE]?.manager).toBeUndefined();
    expect((await h.get(`/scim/v2/Users/${id}`)).body[ENTERPRISE]?.manager).toBeUndefined();
    await patchWith(id, 'entra', 'manager-add-string');
    const again = await patchWith(id, 'entra', 'manager-remove');
    expect(again.status).toBe(200);
    expect(again.body[ENTERPRISE]?.manager).toBeUndefined();
  });

  it('creates the phone number an Add with an unmatched value filter names, with the filter type', async () => {
    const id = await newUser({ phoneNumbers: [{ type: 'work', value: '+44 20 7946 0000' }] });
    const res = await patchWith(id, 'entra', 'phone-mobile-add');
    expect(res.status).toBe(200);
    expect(res.body.phoneNumbers).toEqual(
      expect.arrayContaining([
        { type: 'work', value: '+44 20 7946 0000' },
        { type: 'mobile', value: '+44 7700 900123' },
      ]),
    );
    const reread = await h.get(`/scim/v2/Users/${id}`);
    expect(reread.body.phoneNumbers).toContainEqual({ type: 'mobile', value: '+44 7700 900123' });
  });

  it('creates the entry a Replace with an unmatched value filter names, and replaces it once it exists', async () => {
    const id = await newUser();
    const created = await patchWith(id, 'entra', 'phone-work-replace');
    expect(created.status).toBe(200);
    expect(created.body.phoneNumbers).toEqual([{ type: 'work', value: '+44 20 7946 0123' }]);
    const again = await h.patch(`/scim/v2/Users/${id}`, {
      ...fixture('entra', 'phone-work-replace'),
      Operations: [{ op: 'Replace', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' }],
    });
    expect(again.status).toBe(200);
    expect(again.body.phoneNumbers).toEqual([{ type: 'work', value: '+1 555 0100' }]);
  });

  it('creates a work address from Add and Replace of one of its sub-attributes', async () => {
    const id = await newUser();
    const added = await patchWith(id, 'entra', 'address-work-country-add');
    expect(added.status).toBe(200);
    expect(added.body.addresses).toEqual([{ type: 'work', country: 'DE' }]);
    const replaced = await patchWith(id, 'entra', 'address-work-locality-replace');
    expect(replaced.status).toBe(200);
    expect(replaced.body.addresses).toEqual([{ type: 'work', country: 'DE', locality: 'Berlin' }]);
  });

  it('creates one work address from several sub-attributes added in one message', async () => {
    const id = await newUser();
    const res = await patchWith(id, 'entra', 'address-work-several-add');
    expect(res.status).toBe(200);
    expect(res.body.addresses).toEqual([
      { type: 'work', streetAddress: '1 Microsoft Way', locality: 'Redmond', postalCode: '98052', country: 'US' },
    ]);
  });

  it('leaves a Remove whose value filter matches nothing a no-op (RFC 7644 §3.5.2.2)', async () => {
    const id = await newUser({ phoneNumbers: [{ type: 'work', value: '+44 20 7946 0000' }] });
    const { result: res, byEndpoint } = await h.kitCalls(() => patchWith(id, 'entra', 'phone-fax-remove'));
    expect(res.status).toBe(200);
    expect(res.body.phoneNumbers).toEqual([{ type: 'work', value: '+44 20 7946 0000' }]);
    expect(byEndpoint['PUT /v4/subscribers/:id']).toBeUndefined();
  });

  it('removes the whole enterprise extension named as the path', async () => {
    const id = await newUser({ [ENTERPRISE]: { department: 'Navy', manager: { value: '7' }, costCenter: 'CC-1' } });
    const res = await patchWith(id, 'entra', 'enterprise-remove');
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toBeUndefined();
    expect((await h.get(`/scim/v2/Users/${id}`)).body[ENTERPRISE]).toBeUndefined();
  });

  it('adds and replaces the enterprise extension given as the path with its object as the value', async () => {
    const id = await newUser({ [ENTERPRISE]: { department: 'Navy', employeeNumber: '1906' } });
    const added = await patchWith(id, 'entra', 'enterprise-add');
    expect(added.status).toBe(200);
    expect(added.body[ENTERPRISE]).toEqual({ department: 'Research', employeeNumber: '1906', manager: { value: '9' } });
    const replaced = await patchWith(id, 'entra', 'enterprise-replace');
    expect(replaced.status).toBe(200);
    expect(replaced.body[ENTERPRISE]).toEqual({
      department: 'Ops',
      costCenter: 'CC-2',
      employeeNumber: '1906',
      manager: { value: '9' },
    });
  });

  it("deactivates with Okta's path-less replace of active", async () => {
    const id = await newUser({ [ENTERPRISE]: { manager: { value: '7' } } });
    const res = await patchWith(id, 'okta', 'deactivate');
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(h.sandbox.store.getSubscriber(Number(id))!.state).toBe('inactive');
  });

  it('refuses an extension URN path whose value is not an object', async () => {
    const id = await newUser();
    const res = await h.patch(`/scim/v2/Users/${id}`, {
      ...fixture('entra', 'enterprise-add'),
      Operations: [{ op: 'Add', path: ENTERPRISE, value: 'Research' }],
    });
    expectScimError(res, 400, 'invalidValue');
  });
});

describe('Users: attributes the mapping does not hold (default mapping: no locale, no manager)', () => {
  const audited = auditedHarness();
  let h: Harness;
  beforeAll(() => {
    h = audited.harness();
  });

  const userWithLocale = (email: string) => ({
    ...fixture('okta', 'user-with-locale'),
    userName: email,
    emails: [{ primary: true, type: 'work', value: email }],
  });
  /** The audit record of the one write to `id` (or of the create) with this operation, once written. */
  const auditOf = async (operation: string, id: string) => {
    let entry: Record<string, unknown> | undefined;
    await eventually(() => {
      entry = audited.records().find((e) => e.operation === operation && e.resourceId === id);
      return entry !== undefined;
    });
    return entry!;
  };

  it('ignores locale in a POST and names it in the create audit record', async () => {
    const res = await h.post('/scim/v2/Users', userWithLocale(`locale.${unique()}@example.com`));
    expect(res.status).toBe(201);
    expect(res.body.locale).toBeUndefined();
    const entry = await auditOf('create', res.body.id);
    expect(entry).toMatchObject({ outcome: 'success', detail: 'unmapped attributes ignored: locale' });
  });

  it('ignores locale and the enterprise manager in a PUT and names both', async () => {
    const email = `put.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    const res = await h.put(`/scim/v2/Users/${created.body.id}`, {
      ...userWithLocale(email),
      schemas: [...fixture('okta', 'user-with-locale').schemas, ENTERPRISE],
      [ENTERPRISE]: { department: 'Navy', manager: { value: '7' } },
    });
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toEqual({ department: 'Navy' });
    const entry = await auditOf('replace', created.body.id);
    expect(entry.detail).toBe(`unmapped attributes ignored: locale, ${ENTERPRISE}:manager`);
  });

  it('ignores a PATCH of locale by path (Okta) without writing to Kit, and names it', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`patch.${unique()}@example.com`));
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${created.body.id}`, fixture('okta', 'locale-replace')),
    );
    expect(res.status).toBe(200);
    expect(res.body.locale).toBeUndefined();
    expect(byEndpoint[EXPECT.v4.update]).toBeUndefined();
    expect((await auditOf('patch', created.body.id)).detail).toBe(
      'no change: Kit already held every value sent; unmapped attributes ignored: locale',
    );
  });

  it('applies the rest of a path-less PATCH (Entra) and ignores its locale', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`pathless.${unique()}@example.com`));
    const res = await h.patch(`/scim/v2/Users/${created.body.id}`, fixture('entra', 'locale-pathless-replace'));
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe('Ada L.');
    expect(res.body.locale).toBeUndefined();
    expect((await auditOf('patch', created.body.id)).detail).toBe('unmapped attributes ignored: locale');
  });

  it('still refuses a PATCH path that is no SCIM attribute at all', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`typo.${unique()}@example.com`));
    const res = await h.patch(`/scim/v2/Users/${created.body.id}`, {
      ...fixture('okta', 'locale-replace'),
      Operations: [{ op: 'replace', path: 'locales', value: 'en-GB' }],
    });
    expectScimError(res, 400, 'invalidPath');
  });
});

describe('Users: SCIM_UNMAPPED_ATTRIBUTES=refuse', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_UNMAPPED_ATTRIBUTES: 'refuse' } });
  });
  afterAll(() => h.close());

  it('refuses locale in a POST with 400 invalidValue naming it, before any Kit call', async () => {
    const email = `refused.${unique()}@example.com`;
    const { result: res, total } = await h.kitCalls(() =>
      h.post('/scim/v2/Users', { ...fixture('okta', 'user-with-locale'), userName: email, emails: [{ value: email }] }),
    );
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toMatch(/"locale" is not held by this server's attribute mapping/);
    expect(total).toBe(0);
  });

  it('refuses the enterprise manager in a PUT with 400 invalidValue naming its full path', async () => {
    const email = `refused.put.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    expect(created.status).toBe(201);
    const res = await h.put(
      `/scim/v2/Users/${created.body.id}`,
      oktaUser(email, { [ENTERPRISE]: { manager: { value: '7' } } }),
    );
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toContain(`"${ENTERPRISE}:manager"`);
  });

  it('refuses locale in a PATCH, by path and path-less, with 400 invalidPath', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`refused.patch.${unique()}@example.com`));
    for (const body of [fixture('okta', 'locale-replace'), fixture('entra', 'locale-pathless-replace')]) {
      const res = await h.patch(`/scim/v2/Users/${created.body.id}`, body);
      expectScimError(res, 400, 'invalidPath');
      expect(res.body.detail).toMatch(/"locale" is not held by this server's attribute mapping/);
    }
    const manager = await h.patch(`/scim/v2/Users/${created.body.id}`, fixture('entra', 'manager-add-string'));
    expectScimError(manager, 400, 'invalidPath');
    expect(manager.body.detail).toContain(`"${ENTERPRISE}:manager"`);
  });

  it('accepts what the mapping holds, and nulls or empty lists of what it does not', async () => {
    const email = `kept.${unique()}@example.com`;
    const res = await h.post('/scim/v2/Users', oktaUser(email, { locale: null, roles: [] }));
    expect(res.status).toBe(201);
  });
});
