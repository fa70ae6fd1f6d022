import pino from 'pino';
import request from 'supertest';
import { Service } from '../../src/app/service';
import { stampClock } from '../support/clock';
import { type Harness, patch, startHarness, TOKEN, USER_SCHEMA } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { auditedHarness } from '../support/auditTrail';
import { unique } from '../support/unique';

// An IdP's whole flow, its own lookup included, counted in Kit calls by the sandbox. The lookup
// leaves a snapshot that the write right after it uses instead of reading Kit again.

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const KIT_USER = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';

const entraUser = (upn: string) => ({
  schemas: [USER_SCHEMA, ENTERPRISE],
  externalId: `oid-${upn}`,
  userName: upn,
  active: true,
  displayName: 'Grace Hopper',
  emails: [{ primary: true, type: 'work', value: upn }],
  name: { familyName: 'Hopper', givenName: 'Grace' },
  [ENTERPRISE]: { department: 'Navy' },
});

const lookup = (h: Harness, upn: string) =>
  h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`);

describe('Entra-style flows with the lookup snapshot (mirror off)', () => {
  let h: Harness;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
    // User.groups on a lookup comes from the membership index; warm it as the server does at start-up.
    await h.service.scim().membership.membershipIndex({ priority: 'background' });
  });
  afterAll(() => h.close());

  it('create = the lookup + one upsert: 2 Kit calls', async () => {
    const upn = `flow.create.${clock}@contoso.example`;
    const { result, total, byEndpoint } = await h.kitCalls(async () => {
      const found = await lookup(h, upn);
      expectListResponse(found, 0);
      return h.post('/scim/v2/Users', entraUser(upn));
    });
    expect(result.status).toBe(201);
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': 1, 'POST /v4/subscribers': 1 });
    expect(total).toBe(2);
  });

  it('deprovision = the lookup + one unsubscribe: 2 Kit calls, and a delta read sees it', async () => {
    const upn = `flow.deprov.${clock}@contoso.example`;
    expect((await h.post('/scim/v2/Users', entraUser(upn))).status).toBe(201);
    clock += 60_000;
    const since = clock;
    clock += 60_000;
    const { result, total, byEndpoint } = await h.kitCalls(async () => {
      const [user] = expectListResponse(await lookup(h, upn), 1);
      return h.patch(`/scim/v2/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    });
    expect(result.status).toBe(200);
    expect(result.body.active).toBe(false);
    expect(result.body.meta.lastModified).toBe(new Date(clock).toISOString());
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': 1, 'POST /v4/subscribers/:id/unsubscribe': 1 });
    expect(total).toBe(2);
    expect(h.sandbox.store.getSubscriber(Number(result.body.id))!.state).toBe('inactive');

    // The stamp lives in the journal, not in Kit, and still moves meta.lastModified for delta reads.
    const filter = encodeURIComponent(`meta.lastModified gt "${new Date(since).toISOString()}"`);
    const delta = expectListResponse(await h.get(`/scim/v2/Users?filter=${filter}&count=100`));
    expect(delta.map((u) => [u.id, u.active, u[KIT_USER].state])).toEqual([[result.body.id, false, 'inactive']]);
    const got = await h.get(`/scim/v2/Users/${result.body.id}`);
    expect(got.body.meta.lastModified).toBe(new Date(clock).toISOString());
  });

  it('a group push in between keeps both flows at 2 calls (the membership index stays warm)', async () => {
    const upn = `flow.group.${clock}@contoso.example`;
    const id = (await h.post('/scim/v2/Users', entraUser(upn))).body.id;
    const group = await h.post('/scim/v2/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `Flow ${clock}`,
      members: [{ value: id }],
    });
    expect(group.status).toBe(201);
    const { result, byEndpoint } = await h.kitCalls(async () => {
      const [user] = expectListResponse(await lookup(h, upn), 1);
      expect(user.groups).toEqual([expect.objectContaining({ value: group.body.id })]);
      return h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    });
    expect(result.body.active).toBe(false);
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': 1, 'POST /v4/subscribers/:id/unsubscribe': 1 });
  });

  it('without a lookup just before, the write reads Kit itself (today’s cost)', async () => {
    const upn = `flow.cold.${clock}@contoso.example`;
    const { byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', entraUser(upn)));
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': 1, 'POST /v4/subscribers': 1 });
  });

  it('a snapshot older than LOOKUP_SNAPSHOT_SECONDS is not used', async () => {
    const upn = `flow.old.${clock}@contoso.example`;
    expectListResponse(await lookup(h, upn), 0);
    clock += 10_000; // the default 10 s have passed
    const { byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Users', entraUser(upn)));
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': 1, 'POST /v4/subscribers': 1 });
  });

  it('an email created in Kit between the lookup and the create: Kit’s 200 becomes a 409 saying so', async () => {
    const upn = `flow.race.${clock}@contoso.example`;
    expectListResponse(await lookup(h, upn), 0);
    const sneaked = h.sandbox.store.addSubscriber({ email_address: upn, first_name: 'Other' });
    const res = await h.post('/scim/v2/Users', entraUser(upn));
    expectScimError(res, 409, 'uniqueness');
    expect(res.body.detail).toContain('created in Kit concurrently');
    expect(res.body.detail).toContain(String(sneaked.id));
  });

  it('the reactivation and 409 rules hold with a snapshot in between', async () => {
    const upn = `flow.rules.${clock}@contoso.example`;
    const created = await h.post('/scim/v2/Users', entraUser(upn));
    const id = created.body.id;
    expectListResponse(await lookup(h, upn), 1);
    const off = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expect(off.body.active).toBe(false);
    // The lookup's snapshot said "active"; the server's own unsubscribe replaced it.
    const { result: again, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'True' })),
    );
    expectScimError(again, 400, 'mutability');
    expect(byEndpoint['POST /v4/subscribers/:id/unsubscribe']).toBeUndefined();
    expect(byEndpoint['PUT /v4/subscribers/:id']).toBeUndefined();
    expectListResponse(await lookup(h, upn), 1);
    expectScimError(await h.post('/scim/v2/Users', entraUser(upn)), 409, 'uniqueness');
    expect((await h.del(`/scim/v2/Users/${id}`)).status).toBe(204);
    expectScimError(await h.get(`/scim/v2/Users/${id}`), 404);
    expectScimError(await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'title', value: 'x' })), 404);
  });
});

describe('changes made in Kit, mirror and webhooks off', () => {
  let h: Harness;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
  });
  afterAll(() => h.close());

  it('an unsubscribe clicked in Kit reaches GET /Users/{id} and a delta read, with no SCIM write', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `clicked.${clock}@example.com` });
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(true);
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    h.sandbox.store.setState(s.id, 'inactive');
    const got = await h.get(`/scim/v2/Users/${s.id}`);
    expect(got.body.active).toBe(false);
    // The read found another state than the journal's: that is a change, stamped when it was seen.
    expect(got.body.meta.lastModified).toBe(new Date(clock).toISOString());
    const filter = encodeURIComponent(`meta.lastModified gt "${since}"`);
    const delta = expectListResponse(await h.get(`/scim/v2/Users?filter=${filter}&count=100`));
    expect(delta.map((u) => [u.id, u.active])).toEqual([[String(s.id), false]]);
    expect(await h.service.scim().tracking.journal.read(Date.parse(since), 10)).toEqual([
      {
        subscriberId: s.id,
        at: clock,
        kind: 'state',
        source: 'reread',
        state: 'inactive',
        kitStamp: expect.any(String),
      },
    ]);
  });

  it('a subscriber first seen not active (bounced in Kit, never read before) reads as changed when first seen', async () => {
    const s = h.sandbox.store.addSubscriber({
      email_address: `bounced.${clock}@example.com`,
      created_at: '2020-01-01T00:00:00Z',
    });
    h.sandbox.store.setState(s.id, 'bounced');
    clock += 60_000;
    const got = await h.get(`/scim/v2/Users/${s.id}`);
    expect(got.body.active).toBe(false);
    // The bounce happened at a time the server never saw; the first time it can vouch for is this read.
    expect(got.body.meta.lastModified).toBe(new Date(clock).toISOString());
    clock += 60_000;
    // …and it stays that time (a stable ETag), not "now" on every read.
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.meta.lastModified).toBe(got.body.meta.lastModified);
  });
});

describe('with LOOKUP_SNAPSHOT_SECONDS=0', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { LOOKUP_SNAPSHOT_SECONDS: '0' } });
    await h.service.scim().membership.membershipIndex({ priority: 'background' });
  });
  afterAll(() => h.close());

  it('every write reads Kit again: create = 3 calls; deactivation still 1 write (stamp in the journal)', async () => {
    const upn = `nosnap.${unique()}@contoso.example`;
    const create = await h.kitCalls(async () => {
      expectListResponse(await lookup(h, upn), 0);
      return h.post('/scim/v2/Users', entraUser(upn));
    });
    expect(create.total).toBe(3);
    const deprov = await h.kitCalls(async () => {
      const [user] = expectListResponse(await lookup(h, upn), 1);
      return h.patch(`/scim/v2/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    });
    expect(deprov.byEndpoint).toEqual({
      'GET /v4/subscribers': 1,
      'GET /v4/subscribers/:id': 1,
      'POST /v4/subscribers/:id/unsubscribe': 1,
    });
  });
});

describe('a create that raced a subscriber created in Kit is audited', () => {
  const audited = auditedHarness();
  let h: Harness;
  beforeAll(() => {
    h = audited.harness();
  });

  it('writes a createRaced record naming the subscriber Kit’s upsert updated', async () => {
    const upn = `audited.race.${unique()}@contoso.example`;
    expectListResponse(await lookup(h, upn), 0);
    const sneaked = h.sandbox.store.addSubscriber({ email_address: upn });
    expectScimError(await h.post('/scim/v2/Users', entraUser(upn)), 409, 'uniqueness');
    await h.service.close();
    const raced = audited.records().filter((r) => r.operation === 'createRaced');
    expect(raced).toHaveLength(1);
    expect(raced[0]).toMatchObject({
      resourceType: 'User',
      resourceId: String(sneaked.id),
      outcome: 'failure',
      status: 409,
      actor: 'okta',
      kitCalls: [{ endpoint: 'POST /v4/subscribers', status: 200 }],
    });
  });
});

describe('a deactivation kept only in a memory journal survives a restart as a change', () => {
  let h: Harness;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
  });
  afterAll(() => h.close());

  it('after a restart the deactivated user still shows up in a delta read from before the deactivation', async () => {
    const upn = `restart.${clock}@contoso.example`;
    const id = (await h.post('/scim/v2/Users', entraUser(upn))).body.id;
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    const off = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expect(off.body.active).toBe(false);
    // Kit holds no stamp for it: the journal alone knew. The process restarts with an empty journal.
    await h.service.close();
    clock += 60_000;
    const restarted = new Service({
      config: h.config,
      logger: pino({ level: 'silent' }),
      clock: stampClock(() => clock),
    });
    await restarted.bootstrap();
    try {
      const filter = encodeURIComponent(`meta.lastModified gt "${since}"`);
      const res = await request(restarted.app)
        .get(`/scim/v2/Users?filter=${filter}&count=100`)
        .set('Authorization', `Bearer ${TOKEN}`);
      const delta = expectListResponse(res);
      // Reported at the first time the new process can vouch for: never an older time that would hide it.
      expect(delta.map((u) => [u.id, u.active])).toEqual([[id, false]]);
      expect(Date.parse(delta[0].meta.lastModified)).toBeGreaterThan(Date.parse(since));
    } finally {
      await restarted.close();
    }
  });
});
