import { EXPECT } from '../support/backends';
import { BACKENDS, type Harness, patch, startHarness, USER_SCHEMA } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

// The user scenarios of Microsoft's SCIM validator for Entra ID provisioning, with Entra's non-standard shapes,
// over Kit's v4 API and its legacy v3 API.
describe.each(BACKENDS)('Users: Entra ID provisioning scenarios (Kit %s)', (backend) => {
  const kit = EXPECT[backend];
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(() => h.close());

  const entraUser = (upn: string) => ({
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: 'b1d3-entra-object-id',
    userName: upn,
    active: true,
    displayName: 'Grace Hopper',
    title: 'Rear Admiral',
    emails: [{ primary: true, type: 'work', value: upn }],
    name: { formatted: 'Grace Hopper', familyName: 'Hopper', givenName: 'Grace' },
    [ENTERPRISE]: { employeeNumber: '1906', department: 'Navy' },
  });

  let id: string;
  const upn = `grace.${unique()}@contoso.example`;

  it('creates a user with the enterprise extension and round-trips every mapped attribute', async () => {
    const res = await h.post('/scim/v2/Users', entraUser(upn));
    expect(res.status).toBe(201);
    id = res.body.id;
    const got = await h.get(`/scim/v2/Users/${id}`);
    expect(got.body).toMatchObject({
      externalId: 'b1d3-entra-object-id',
      userName: upn,
      displayName: 'Grace Hopper',
      title: 'Rear Admiral',
      active: true,
      name: { familyName: 'Hopper', givenName: 'Grace' },
      [ENTERPRISE]: { employeeNumber: '1906', department: 'Navy' },
    });
    expect(got.body.schemas).toEqual(expect.arrayContaining([USER_SCHEMA, ENTERPRISE]));
  });

  it('filters by userName and by externalId', async () => {
    const byName = await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`);
    expect(expectListResponse(byName, 1)[0].id).toBe(id);
    const byExternal = await h.get(
      `/scim/v2/Users?filter=${encodeURIComponent('externalId eq "b1d3-entra-object-id"')}`,
    );
    expect(expectListResponse(byExternal, 1)[0].id).toBe(id);
  });

  it('applies a PATCH with capitalised ops, string booleans, filtered email paths and URN paths', async () => {
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch(
        { op: 'Replace', path: 'displayName', value: 'Amazing Grace' },
        { op: 'Replace', path: 'name.familyName', value: 'Hopper-Murray' },
        { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Computing' },
        { op: 'Add', path: 'externalId', value: 'new-object-id' },
        { op: 'Replace', path: 'active', value: 'True' },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      displayName: 'Amazing Grace',
      externalId: 'new-object-id',
      name: { familyName: 'Hopper-Murray' },
      [ENTERPRISE]: { department: 'Computing' },
      active: true,
    });
  });

  it('changes the email (and userName) through emails[type eq "work"].value and userName', async () => {
    const next = `grace.new.${unique()}@contoso.example`;
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch(
        { op: 'Replace', path: 'userName', value: next },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: next },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body.userName).toBe(next);
    expect(h.sandbox.store.getSubscriber(Number(id))!.email_address).toBe(next);
  });

  it('accepts a value-object PATCH without a path', async () => {
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch({ op: 'replace', value: { title: 'Commodore', 'name.givenName': 'G.' } }),
    );
    expect(res.status).toBe(200);
    expect(res.body.title).toBe('Commodore');
  });

  it('disables with "False" as a string', async () => {
    const res = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(h.sandbox.store.getSubscriber(Number(id))!.state).toBe('inactive');
  });

  it('answers a PATCH that changes nothing without writing to Kit', async () => {
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'title', value: 'Commodore' })),
    );
    expect(res.status).toBe(200);
    expect(byEndpoint[kit.update]).toBeUndefined();
  });

  it('refuses an email already used by another subscriber with 409 uniqueness', async () => {
    const other = await h.post('/scim/v2/Users', entraUser(`other.${unique()}@contoso.example`));
    expect(other.status).toBe(201);
    const taken = h.sandbox.store.getSubscriber(Number(id))!.email_address;
    const res = await h.patch(
      `/scim/v2/Users/${other.body.id}`,
      patch({ op: 'Replace', path: 'userName', value: taken }),
    );
    expectScimError(res, 409, 'uniqueness');
  });

  it('keeps a non-email userName in Kit and finds it case-insensitively', async () => {
    const res = await h.post('/scim/v2/Users', {
      schemas: [USER_SCHEMA],
      userName: 'GHopper',
      emails: [{ value: `gh.${unique()}@contoso.example`, type: 'work', primary: true }],
    });
    expect(res.status).toBe(201);
    expect(res.body.userName).toBe('GHopper');
    const found = await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "ghopper"')}`);
    expect(expectListResponse(found, 1)[0].id).toBe(res.body.id);
  });

  it('accepts "False" as a string on create and answers 404 for a non-canonical id', async () => {
    const res = await h.post('/scim/v2/Users', { ...entraUser(`str.${unique()}@contoso.example`), active: 'False' });
    expect(res.status).toBe(201);
    expect(res.body.active).toBe(false);
    expect(h.sandbox.store.getSubscriber(Number(res.body.id))!.state).toBe('inactive');
    expectScimError(await h.get(`/scim/v2/Users/00${res.body.id}`), 404);
  });

  it('deletes the user', async () => {
    expect((await h.del(`/scim/v2/Users/${id}`)).status).toBe(204);
    expectScimError(await h.get(`/scim/v2/Users/${id}`), 404);
  });
});

describe('Users: filters Kit can answer by date', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('pushes meta.created down to Kit so only the matching pages are read, and stays exact', async () => {
    for (let i = 0; i < 2500; i++) {
      h.sandbox.store.addSubscriber({ email_address: `old${i}@example.com`, created_at: '2020-06-01T00:00:00Z' });
    }
    const recent = ['2026-03-01T10:00:00Z', '2026-03-02T10:00:00Z', '2026-03-03T10:00:00Z'].map((at, i) =>
      h.sandbox.store.addSubscriber({ email_address: `new${i}@example.com`, created_at: at }),
    );
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.get(
        `/scim/v2/Users?filter=${encodeURIComponent('meta.created gt "2026-03-01T12:00:00Z"')}&excludedAttributes=groups`,
      ),
    );
    const found = expectListResponse(result, 2).map((u: any) => u.id);
    expect(found.sort()).toEqual(
      recent
        .slice(1)
        .map((s) => String(s.id))
        .sort(),
    );
    // Without the pushdown the walk would read all three Kit pages of 1,000.
    expect(byEndpoint['GET /v4/subscribers']).toBe(1);
  });
});
