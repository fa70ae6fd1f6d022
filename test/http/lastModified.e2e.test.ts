import { stampClock } from '../support/clock';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// meta.lastModified is the server's own stamp (Kit returns no updated_at). An IGA delta read
// (`meta.lastModified gt "T"`) must see every change made through the server, deactivation above all.

const KIT_USER = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';

describe('meta.lastModified moves with every change made through the server', () => {
  let h: Harness;
  // A clock the test moves: close to real time, because Kit's own updated_at bounds the pushed-down filter.
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const at = (ms: number) => new Date(ms).toISOString();
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
  });
  afterAll(() => h.close());

  const run = unique();
  const deltaSince = async (t: number) => {
    const filter = encodeURIComponent(`meta.lastModified gt "${at(t)}" and userName sw "delta.${run}"`);
    return expectListResponse(await h.get(`/scim/v2/Users?filter=${filter}&count=100`));
  };

  async function createUser(name: string): Promise<string> {
    const res = await h.post('/scim/v2/Users', oktaUser(`delta.${run}.${name}@example.com`));
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it('a deactivation (PATCH active:false, nothing else) shows up in a delta read, for two Kit calls', async () => {
    const okta = await createUser('okta');
    const quiet = await createUser('quiet');
    clock += 60_000;
    const since = clock;
    clock += 60_000;
    expect(await deltaSince(since)).toEqual([]);

    const { result, total, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${okta}?excludedAttributes=groups`, patch({ op: 'replace', value: { active: false } })),
    );
    expect(result.status).toBe(200);
    expect(result.body.active).toBe(false);
    expect(result.body.meta.lastModified).toBe(at(clock));
    // Read and the unsubscribe; the stamp is the change journal's, not a Kit write. Plus the
    // user's tags when the index is cold.
    expect(byEndpoint).toMatchObject({
      'GET /v4/subscribers/:id': 1,
      'POST /v4/subscribers/:id/unsubscribe': 1,
    });
    expect(byEndpoint['PUT /v4/subscribers/:id']).toBeUndefined();
    expect(total - (byEndpoint['GET /v4/subscribers/:id/tags'] ?? 0)).toBe(2);

    const delta = await deltaSince(since);
    expect(delta.map((u) => [u.id, u.active, u[KIT_USER].state])).toEqual([[okta, false, 'inactive']]);
    expect(delta.map((u) => u.id)).not.toContain(quiet);
  });

  it('an Okta PUT with active:false and an Entra "False" string PATCH move it too', async () => {
    const put = await createUser('put');
    const entra = await createUser('entra');
    clock += 60_000;
    const since = clock;
    clock += 60_000;
    const email = `delta.${run}.put@example.com`;
    expect((await h.put(`/scim/v2/Users/${put}`, oktaUser(email, { id: put, active: false }))).status).toBe(200);
    const res = await h.patch(`/scim/v2/Users/${entra}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expect(res.status).toBe(200);
    expect((await deltaSince(since)).map((u) => [u.id, u.active]).sort()).toEqual(
      [
        [put, false],
        [entra, false],
      ].sort(),
    );
  });

  it('journals the stamp before the one-way unsubscribe, and writes nothing else to Kit', async () => {
    const id = await createUser('order');
    const journal = h.service.scim().tracking.journal;
    let unsubscribedWhenJournaled: boolean | undefined;
    const off = journal.subscribe((c) => {
      if (c.subscriberId === Number(id) && c.kind === 'deactivated')
        unsubscribedWhenJournaled = h.sandbox.store.getSubscriber(Number(id))!.state !== 'active';
    });
    const { byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })),
    );
    off();
    expect(unsubscribedWhenJournaled).toBe(false);
    expect(byEndpoint['PUT /v4/subscribers/:id']).toBeUndefined();
    const writes = h.sandbox
      .calls()
      .log.map((c) => c.endpoint)
      .filter((e) => !e.startsWith('GET'));
    expect(writes).toEqual(['POST /v4/subscribers/:id/unsubscribe']);
  });

  it('an unchanged PATCH writes nothing and leaves the stamp alone', async () => {
    const id = await createUser('same');
    const before = (await h.get(`/scim/v2/Users/${id}`)).body.meta.lastModified;
    clock += 60_000;
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'displayName', value: 'Ada Lovelace' })),
    );
    expect(result.status).toBe(200);
    expect(result.body.meta.lastModified).toBe(before);
    expect(Object.keys(byEndpoint).filter((e) => !e.startsWith('GET'))).toEqual([]);
  });
});

describe('deactivation against Kit’s documented bare 204 unsubscribe answer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sandbox: { unsubscribeAnswer: 'noContent' } });
  });
  afterAll(() => h.close());

  it('still costs two Kit calls: the subscriber just read stands in for a read-back', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`bare204.${unique()}@example.com`));
    const { result, total, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${created.body.id}`, patch({ op: 'replace', path: 'active', value: false })),
    );
    expect(result.status).toBe(200);
    expect(result.body.active).toBe(false);
    expect(result.body[KIT_USER].state).toBe('inactive');
    expect(result.body.name.givenName).toBe('Ada');
    // The create's own echo is the lookup snapshot: the PATCH right after it reads nothing.
    expect(byEndpoint['GET /v4/subscribers/:id']).toBeUndefined();
    expect(total - (byEndpoint['GET /v4/subscribers/:id/tags'] ?? 0)).toBe(1);
    expect((await h.get(`/scim/v2/Users/${created.body.id}`)).body.active).toBe(false);
  });
});

describe('re-creating a user deleted through SCIM', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('is a 409 uniqueness that says the user was deleted and what an operator can do; Kit is not written', async () => {
    const email = `deleted.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    expect((await h.del(`/scim/v2/Users/${created.body.id}`)).status).toBe(204);
    expectScimError(await h.get(`/scim/v2/Users/${created.body.id}`), 404);

    const { result, byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', oktaUser(email)));
    expectScimError(result, 409, 'uniqueness');
    expect(result.body.detail).toMatch(
      new RegExp(`belongs to user ${created.body.id}, which was deleted through SCIM`),
    );
    expect(result.body.detail).not.toMatch(/is "inactive"/);
    expect(result.body.detail).toMatch(/scim_deleted_at/);
    expect(result.body.detail).toMatch(/different email/);
    // At most the lookup (the GET just before may have left its snapshot); never a write.
    expect(Object.keys(byEndpoint).filter((e) => e !== 'GET /v4/subscribers')).toEqual([]);
    const metrics = await h.service.metrics.registry.metrics();
    expect(metrics).toMatch(/scim_reactivation_rejected_total\{operation="create"\} 1/);
  });
});
