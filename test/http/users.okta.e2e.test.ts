import { randomUUID } from 'node:crypto';
import { EXPECT } from '../support/backends';
import { BACKENDS, type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// The sequence Okta's SCIM 2.0 "spec" and "CRUD" test suites (Runscope) run against a SCIM server, over Kit's
// v4 API and over its legacy v3 API (the same flow; only the Kit endpoints and their counts differ).
describe.each(BACKENDS)('Users: Okta SCIM 2.0 test sequence (Kit %s)', (backend) => {
  const kit = EXPECT[backend];
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(() => h.close());

  const email = `ada.${unique()}@example.com`;
  let id: string;

  it('lists users with count=1', async () => {
    h.sandbox.store.seedSubscribers(3);
    const res = await h.get('/scim/v2/Users?startIndex=1&count=1');
    const resources = expectListResponse(res);
    expect(res.body.totalResults).toBeGreaterThanOrEqual(3);
    expect(resources).toHaveLength(1);
    expect(res.body.itemsPerPage).toBe(1);
    expect(res.body.startIndex).toBe(1);
  });

  it('gets a listed user by id', async () => {
    const list = await h.get('/scim/v2/Users?count=1');
    const first = list.body.Resources[0];
    const res = await h.get(`/scim/v2/Users/${first.id}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(first.id);
    expect(res.body.userName).toBe(first.userName);
  });

  it('filters on a random userName and finds nothing', async () => {
    const res = await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}@example.com"`)}`);
    expectListResponse(res, 0);
    expect(res.body.Resources ?? []).toEqual([]);
  });

  it('answers 404 with a detail for an unknown id', async () => {
    const res = await h.get('/scim/v2/Users/999999999');
    expectScimError(res, 404);
    expect(res.body.detail).toMatch(/not found/i);
    expectScimError(await h.get(`/scim/v2/Users/${randomUUID()}`), 404);
  });

  it('creates a user (v4: lookup + one upsert carrying every field; v3: two lookups, subscribe, read-back)', async () => {
    const { result: res, total, byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', oktaUser(email)));
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/application\/scim\+json/);
    expect(res.headers.location).toMatch(new RegExp(`/scim/v2/Users/${res.body.id}$`));
    expect(res.body).toMatchObject({ userName: email, active: true, displayName: 'Ada Lovelace' });
    expect(res.body.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
    expect(total).toBe(kit.createCalls);
    expect(byEndpoint[kit.lookup]).toBe(kit.absentLookupCalls);
    expect(byEndpoint[kit.create]).toBe(1);
    id = res.body.id;
    const stored = h.sandbox.store.getSubscriber(Number(id))!;
    expect(stored.first_name).toBe('Ada');
    expect(Object.values(stored.fields)).toContain('Lovelace');
  });

  it('refuses a duplicate with 409 uniqueness and does not touch Kit beyond the lookup', async () => {
    const {
      result: res,
      total,
      byEndpoint,
    } = await h.kitCalls(() =>
      h.post('/scim/v2/Users', oktaUser(email, { name: { givenName: 'Mallory', familyName: 'X' } })),
    );
    expectScimError(res, 409, 'uniqueness');
    // The lookup, unless the create's own echo (the lookup snapshot) still answers it.
    expect(total).toBeLessThanOrEqual(1);
    expect(byEndpoint[kit.create]).toBeUndefined();
    expect(h.sandbox.store.getSubscriber(Number(id))!.first_name).toBe('Ada');
  });

  it('finds the user by upper-cased userName with one Kit call', async () => {
    const { result: res, total } = await h.kitCalls(() =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}`),
    );
    const [found] = expectListResponse(res, 1);
    expect(found.id).toBe(id);
    expect(total).toBe(1);
  });

  it('gets by id with one Kit call when groups are not requested', async () => {
    const { result: res, total } = await h.kitCalls(() => h.get(`/scim/v2/Users/${id}?excludedAttributes=groups`));
    expect(res.status).toBe(200);
    expect(res.body.groups).toBeUndefined();
    expect(total).toBe(1);
  });

  it('updates with PUT (only the provided data changes)', async () => {
    const res = await h.put(
      `/scim/v2/Users/${id}`,
      oktaUser(email, { id, name: { givenName: 'Augusta', familyName: 'King' }, displayName: undefined }),
    );
    expect(res.status).toBe(200);
    expect(res.body.name).toEqual({ givenName: 'Augusta', familyName: 'King' });
    expect(res.body.displayName).toBeUndefined();
    const again = await h.get(`/scim/v2/Users/${id}`);
    expect(again.body.name.givenName).toBe('Augusta');
  });

  it('patches a name with at most two Kit calls', async () => {
    const { result: res, total } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'name.givenName', value: 'Ada' })),
    );
    expect(res.status).toBe(200);
    expect(res.body.name.givenName).toBe('Ada');
    expect(total).toBeLessThanOrEqual(3);
    expect(total - (res.body.groups === undefined ? 0 : 1)).toBeLessThanOrEqual(2);
  });

  it('deactivates (active:false → Kit unsubscribe) with at most three Kit calls', async () => {
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', value: { active: false } })),
    );
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(res.body['urn:ietf:params:scim:schemas:extension:kit:2.0:User'].state).toBe('inactive');
    expect(byEndpoint[kit.unsubscribe]).toBe(1);
    expect(h.sandbox.store.getSubscriber(Number(id))!.state).toBe('inactive');
    const reread = await h.get(`/scim/v2/Users/${id}`);
    expect(reread.body.active).toBe(false);
  });

  it('flags reactivation: 400 mutability, Kit unchanged, counted in metrics', async () => {
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: true })),
    );
    expectScimError(res, 400, 'mutability');
    expect(res.body.detail).toMatch(/Kit cannot reactivate/);
    expect(res.body.detail).toMatch(/re-subscribe/);
    expect(Object.keys(byEndpoint).filter((e) => !e.startsWith('GET'))).toEqual([]);
    expect(h.sandbox.store.getSubscriber(Number(id))!.state).toBe('inactive');
    const put = await h.put(`/scim/v2/Users/${id}`, oktaUser(email, { active: true }));
    expectScimError(put, 400, 'mutability');
    const metrics = await h.get('/metrics');
    expect(metrics.text).toMatch(/reactivation_rejected_total\{operation="patch"\} 1/);
    expect(metrics.text).toMatch(/reactivation_rejected_total\{operation="replace"\} 1/);
  });

  it('refuses re-creating a deactivated user with 409 uniqueness and the reactivation detail', async () => {
    const { result: res, byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', oktaUser(email)));
    expectScimError(res, 409, 'uniqueness');
    expect(res.body.detail).toMatch(/Kit cannot reactivate/);
    expect(byEndpoint[kit.create]).toBeUndefined();
    expect(h.sandbox.store.getSubscriber(Number(id))!.state).toBe('inactive');
  });

  it('deletes: 204, then 404 for every operation and absent from lists', async () => {
    const del = await h.del(`/scim/v2/Users/${id}`);
    expect(del.status).toBe(204);
    expectScimError(await h.get(`/scim/v2/Users/${id}`), 404);
    expectScimError(await h.put(`/scim/v2/Users/${id}`, oktaUser(email)), 404);
    expectScimError(
      await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'displayName', value: 'x' })),
      404,
    );
    expectScimError(await h.del(`/scim/v2/Users/${id}`), 404);
    const filtered = await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`);
    expectListResponse(filtered, 0);
    const all = await h.get('/scim/v2/Users?count=1000');
    expect(all.body.Resources.map((u: any) => u.id)).not.toContain(id);
    expect(all.body.totalResults).toBe(all.body.Resources.length);
  });

  it('keeps the deletion after a restart (the tombstone lives in Kit)', async () => {
    const fresh = await startHarnessOn(h);
    try {
      expectScimError(await fresh.get(`/scim/v2/Users/${id}`), 404);
    } finally {
      await fresh.service.close();
    }
  });
});

async function startHarnessOn(h: Harness) {
  const { Service } = await import('../../src/app/service');
  const pino = (await import('pino')).default;
  const request = (await import('supertest')).default;
  const service = new Service({ config: h.config, logger: pino({ level: 'silent' }) });
  await service.bootstrap();
  return {
    service,
    get: (p: string) =>
      request(service.app).get(p).set('Authorization', 'Bearer test-token-0123456789abcdef0123456789'),
  };
}
