import type { SubscriberMirror } from '../../src/scim/mirror/subscriberMirror';
import { stampClock } from '../support/clock';
import { type Harness, patch, startHarness, USER_SCHEMA } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectListResponse, expectScimError } from '../support/scim';

// The subscriber mirror (MIRROR=on, in memory here; the Redis one in mirror.redis.test.ts).
// Every count below is the sandbox's own.

const KIT_USER = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';

const entraUser = (upn: string) => ({
  schemas: [USER_SCHEMA],
  externalId: `oid-${upn}`,
  userName: upn,
  active: true,
  emails: [{ primary: true, type: 'work', value: upn }],
  name: { familyName: 'Hopper', givenName: 'Grace' },
});

const lookup = (h: Harness, upn: string) =>
  h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`);

describe('the subscriber mirror (memory)', () => {
  let h: Harness;
  let mirror: SubscriberMirror;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const N = 2500;

  beforeAll(async () => {
    h = await startHarness({ env: { MIRROR: 'on' }, clock: stampClock(() => clock) });
    mirror = h.service.scim().tracking.mirror!;
    await eventually(() => mirror.complete());
    await h.service.scim().membership.membershipIndex({ priority: 'background' });
    h.sandbox.store.seedSubscribers(N, { emailPrefix: 'mirrored-' });
  });
  afterAll(() => h.close());

  it('is built by one walk: ceil(N/1000) Kit calls', async () => {
    const { total, byEndpoint } = await h.kitCalls(() => mirror.walk());
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': Math.ceil(N / 1000) });
    expect(total).toBe(3);
    expect(await mirror.complete()).toBe(true);
  });

  it('create = 1 Kit call: the lookup and the existence check come from the mirror', async () => {
    const upn = `m.create.${clock}@contoso.example`;
    const { result, byEndpoint } = await h.kitCalls(async () => {
      expectListResponse(await lookup(h, upn), 0);
      return h.post('/scim/v2/Users', entraUser(upn));
    });
    expect(result.status).toBe(201);
    expect(byEndpoint).toEqual({ 'POST /v4/subscribers': 1 });
    // The server's own write is in the mirror at once, indexes included.
    const { result: again, total } = await h.kitCalls(() => lookup(h, upn));
    expect(expectListResponse(again, 1)[0].id).toBe(result.body.id);
    expect(total).toBe(0);
    expect((await mirror.byExternalId(`oid-${upn}`))?.id).toBe(Number(result.body.id));
    // externalId eq and a non-email userName eq come from the mirror's indexes.
    const byExternal = await h.kitCalls(() =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`externalId eq "oid-${upn}"`)}`),
    );
    expect(expectListResponse(byExternal.result, 1)[0].id).toBe(result.body.id);
    expect(byExternal.total).toBe(0);
    const named = await h.post('/scim/v2/Users', {
      schemas: [USER_SCHEMA],
      userName: `GHopper${clock}`,
      emails: [{ value: `gh.${clock}@contoso.example`, type: 'work', primary: true }],
    });
    const byName = await h.kitCalls(() =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "ghopper${clock}"`)}`),
    );
    expect(expectListResponse(byName.result, 1)[0].id).toBe(named.body.id);
    expect(byName.total).toBe(0);
  });

  it('deprovision = 1 Kit call (the unsubscribe), and a delta read sees it', async () => {
    const upn = `m.deprov.${clock}@contoso.example`;
    expect((await h.post('/scim/v2/Users', entraUser(upn))).status).toBe(201);
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    const { result, byEndpoint } = await h.kitCalls(async () => {
      const [user] = expectListResponse(await lookup(h, upn), 1);
      return h.patch(`/scim/v2/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    });
    expect(result.body.active).toBe(false);
    expect(byEndpoint).toEqual({ 'POST /v4/subscribers/:id/unsubscribe': 1 });
    const delta = await h.kitCalls(() =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`meta.lastModified gt "${since}"`)}&count=100`),
    );
    expect(expectListResponse(delta.result).map((u) => [u.id, u.active])).toEqual([[result.body.id, false]]);
    expect(delta.total).toBe(0);
  });

  it('GET /Users/{id} and a whole list walk cost 0 Kit calls', async () => {
    const id =
      h.sandbox.store.findByEmail('mirrored-1@example.com')?.id ?? (await mirror.page(null, 'asc')).items[0].id;
    const { result, total } = await h.kitCalls(async () => {
      expect((await h.get(`/scim/v2/Users/${id}`)).status).toBe(200);
      const seen: string[] = [];
      for (let start = 1; ; start += 500) {
        const page = await h.get(`/scim/v2/Users?startIndex=${start}&count=500`);
        seen.push(...page.body.Resources.map((u: any) => u.id));
        if (start + 500 > page.body.totalResults) return { seen, totalResults: page.body.totalResults };
      }
    });
    expect(result.seen).toHaveLength(result.totalResults);
    expect(result.totalResults).toBe(N + 3);
    expect(total).toBe(0);
  });

  it('a subscriber created in Kit after the walk is read from Kit by id, never a 404', async () => {
    const late = h.sandbox.store.addSubscriber({ email_address: `late.${clock}@example.com` });
    const { result, byEndpoint } = await h.kitCalls(() => h.get(`/scim/v2/Users/${late.id}?excludedAttributes=groups`));
    expect(result.status).toBe(200);
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });
    // An id the walk saw costs nothing.
    const known = await h.kitCalls(() => h.get('/scim/v2/Users/1?excludedAttributes=groups'));
    expect(known.result.status).toBe(200);
    expect(known.total).toBe(0);
  });

  it('an unsubscribe made in Kit whose webhook was lost is healed by the re-walk, and seen by a delta read', async () => {
    const target = h.sandbox.store.findByEmail('mirrored-7@example.com')!;
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    h.sandbox.store.setState(target.id, 'inactive');
    // No webhook: the mirror still says active (the staleness bound without webhooks is the refresh period).
    expect((await h.get(`/scim/v2/Users/${target.id}`)).body.active).toBe(true);
    const walk = await h.kitCalls(() => mirror.walk());
    expect(walk.total).toBe(Math.ceil((N + 4) / 1000));
    const got = await h.kitCalls(() => h.get(`/scim/v2/Users/${target.id}`));
    expect(got.result.body.active).toBe(false);
    expect(got.result.body[KIT_USER].state).toBe('inactive');
    expect(got.result.body.meta.lastModified).toBe(new Date(clock).toISOString());
    expect(got.total).toBe(0);
    const delta = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`meta.lastModified gt "${since}"`)}&count=100`),
    );
    expect(delta.map((u) => u.id)).toEqual([String(target.id)]);
    const feed = await h.service.scim().tracking.journal.read(Date.parse(since), 10);
    expect(feed).toEqual([
      {
        subscriberId: target.id,
        at: clock,
        kind: 'state',
        source: 'rewalk',
        state: 'inactive',
        // What Kit holds that names this state: the server's stamp (no SCIM write since the create) names it.
        kitStamp: expect.any(String),
      },
    ]);
  });

  it('keeps the reactivation, 409 and 404-after-delete rules', async () => {
    const upn = `m.rules.${clock}@contoso.example`;
    const id = (await h.post('/scim/v2/Users', entraUser(upn))).body.id;
    await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expectScimError(
      await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'True' })),
      400,
      'mutability',
    );
    const dup = await h.kitCalls(() => h.post('/scim/v2/Users', entraUser(upn)));
    expectScimError(dup.result, 409, 'uniqueness');
    expect(dup.total).toBe(0);
    expect((await h.del(`/scim/v2/Users/${id}`)).status).toBe(204);
    const gone = await h.kitCalls(() => h.get(`/scim/v2/Users/${id}`));
    expectScimError(gone.result, 404);
    expect(gone.total).toBe(0);
    expectListResponse(await lookup(h, upn), 0);
    expectScimError(await h.post('/scim/v2/Users', entraUser(upn)), 409, 'uniqueness');
  });

  it('the one risk: a subscriber unknown to the mirror is overwritten by a create, answered 409 and audited', async () => {
    const upn = `m.risk.${clock}@contoso.example`;
    const unknown = h.sandbox.store.addSubscriber({ email_address: upn, first_name: 'Kept' });
    const { result, byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', entraUser(upn)));
    expectScimError(result, 409, 'uniqueness');
    expect(result.body.detail).toContain('created in Kit concurrently');
    expect(byEndpoint).toEqual({ 'POST /v4/subscribers': 1 });
    expect(h.sandbox.store.getSubscriber(unknown.id)!.first_name).toBe('Grace');
    // …and the mirror knows it now; the race is counted (and audited).
    expect((await mirror.byEmail(upn))?.id).toBe(unknown.id);
    expect(await h.service.metrics.registry.metrics()).toMatch(/scim_create_raced_total 1/);
  });
});
