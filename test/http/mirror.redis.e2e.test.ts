import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { stampClock } from '../support/clock';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { expectListResponse } from '../support/scim';

// The subscriber mirror across replicas: two Service instances sharing one Redis share one mirror (walked once), one
// lookup snapshot and one change journal; with Redis away, answers come from Kit, exact, at today's cost.

const TOKEN = 'mirror-replica-token-0123456789abcdef0123';
const N = 1500;

(hasRedisServer ? describe : describe.skip)('two replicas, one Redis: one mirror', () => {
  let redis: PrivateRedis;
  let sandbox: KitSandbox;
  let a: Service;
  let b: Service;
  let clock = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    sandbox.store.seedSubscribers(N, { emailPrefix: 'shared-' });
    const config = loadConfig({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `idp=${TOKEN}`,
      REDIS_URL: redis.url,
      // Generous, so a loaded CI machine does not see a healthy Redis flap.
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      REDIS_PROBE_INTERVAL_MS: '100',
      MIRROR: 'on',
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
      KIT_RATE_WINDOW_MS: '200',
    });
    const make = () => new Service({ config, logger: pino({ level: 'silent' }), clock: stampClock(() => clock) });
    a = make();
    b = make();
    await Promise.all([a.bootstrap(), b.bootstrap()]);
    // A bounded wait for the first walk (longer on a starved CPU), not a measure of it.
    await eventually(
      async () => (await a.scim().tracking.mirror!.complete()) && b.scim().tracking.mirror!.complete(),
      400,
    );
    await a.scim().membership.membershipIndex({ priority: 'background' });
    await b.scim().membership.membershipIndex({ priority: 'background' });
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  const on = (s: Service) => ({
    get: (p: string) => request(s.app).get(p).set('Authorization', `Bearer ${TOKEN}`),
    post: (p: string, body: unknown) =>
      request(s.app)
        .post(p)
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify(body)),
    patch: (p: string, body: unknown) =>
      request(s.app)
        .patch(p)
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify(body)),
  });
  const lookup = (s: Service, upn: string) =>
    on(s).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}&excludedAttributes=groups`);
  const user = (upn: string) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: upn,
    emails: [{ value: upn, type: 'work', primary: true }],
    name: { givenName: 'Ada' },
  });
  const deactivate = {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  };
  const calls = async <T>(fn: () => Promise<T>) => {
    sandbox.resetCalls();
    const result = await fn();
    return { result, ...sandbox.calls() };
  };

  it('was walked once for both: ceil(N/1000) subscriber pages in all', () => {
    const pages = sandbox.calls().log.filter((c) => c.endpoint === 'GET /v4/subscribers');
    expect(pages).toHaveLength(Math.ceil(N / 1000));
  });

  it('a lookup on one replica and the write on the other: create and deprovision cost 1 Kit call each', async () => {
    const upn = `across.${clock}@example.com`;
    const create = await calls(async () => {
      expectListResponse(await lookup(a, upn), 0);
      return on(b).post('/scim/v2/Users', user(upn));
    });
    expect(create.result.status).toBe(201);
    expect(create.byEndpoint).toEqual({ 'POST /v4/subscribers': 1 });
    // Past every seeded subscriber's created_at (real time at seeding), so only the deactivation is newer.
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    const deprov = await calls(async () => {
      const [found] = expectListResponse(await lookup(a, upn), 1);
      return on(b).patch(`/scim/v2/Users/${found.id}`, deactivate);
    });
    expect(deprov.result.body.active).toBe(false);
    expect(deprov.byEndpoint).toEqual({ 'POST /v4/subscribers/:id/unsubscribe': 1 });
    // The other replica reads the same mirror and journal: 0 calls, inactive, moved for a delta read.
    const seen = await calls(() => on(a).get(`/scim/v2/Users/${create.result.body.id}?excludedAttributes=groups`));
    expect(seen.result.body.active).toBe(false);
    expect(seen.result.body.meta.lastModified).toBe(new Date(clock).toISOString());
    expect(seen.total).toBe(0);
    const delta = expectListResponse(
      await on(a).get(`/scim/v2/Users?filter=${encodeURIComponent(`meta.lastModified gt "${since}"`)}&count=100`),
    );
    expect(delta.map((u) => u.id)).toEqual([create.result.body.id]);
  });

  it('with Redis away, answers come from Kit (exact, at today’s cost), and the mirror is walked again after', async () => {
    const upn = `outage.${clock}@example.com`;
    const id = (await on(a).post('/scim/v2/Users', user(upn))).body.id;
    redis.pause();
    await eventually(async () => (await a.scim().tracking.mirror!.complete()) === false, 100, 100);
    clock += 60_000;
    // The journal cannot record the deactivation: its stamp goes to Kit (read, stamp, unsubscribe;
    // the membership index's generation lives in Redis too, so the user's tags are read: today's cost).
    const deprov = await calls(() => on(a).patch(`/scim/v2/Users/${id}`, deactivate));
    expect(deprov.result.status).toBe(200);
    expect(deprov.result.body.active).toBe(false);
    expect(deprov.byEndpoint).toEqual({
      'GET /v4/subscribers/:id': 1,
      'GET /v4/subscribers/:id/tags': 1,
      'PUT /v4/subscribers/:id': 1,
      'POST /v4/subscribers/:id/unsubscribe': 1,
    });
    const read = await calls(() => on(b).get(`/scim/v2/Users/${id}?excludedAttributes=groups`));
    expect(read.result.body.active).toBe(false);
    expect(read.byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });
    sandbox.resetCalls();
    redis.resume();
    // Replica a missed a write to the mirror: once Redis answers, the mirror is marked incomplete for every
    // replica and walked again, by itself.
    const walkPages = () => sandbox.calls().log.filter((c) => c.endpoint === 'GET /v4/subscribers').length;
    await eventually(() => walkPages() >= Math.ceil(N / 1000), 400, 100);
    await eventually(() => b.scim().tracking.mirror!.complete(), 400, 100);
    const after = await calls(() => on(b).get(`/scim/v2/Users/${id}?excludedAttributes=groups`));
    expect(after.result.body.active).toBe(false);
    expect(after.total).toBe(0);
  }, 30_000);
});

(hasRedisServer ? describe : describe.skip)('two replicas, one Redis, mirror off: one change journal', () => {
  let redis: PrivateRedis;
  let sandbox: KitSandbox;
  let a: Service;
  let b: Service;
  let clock = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    const config = loadConfig({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `idp=${TOKEN}`,
      REDIS_URL: redis.url,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
      KIT_RATE_WINDOW_MS: '200',
    });
    const make = () => new Service({ config, logger: pino({ level: 'silent' }), clock: stampClock(() => clock) });
    a = make();
    b = make();
    await Promise.all([a.bootstrap(), b.bootstrap()]);
  }, 30_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  const get = (s: Service, p: string) => request(s.app).get(p).set('Authorization', `Bearer ${TOKEN}`);

  it('a change seen by one replica’s read moves meta.lastModified on both, once', async () => {
    const s = sandbox.store.addSubscriber({ email_address: `journal.${clock}@example.com` });
    expect((await get(a, `/scim/v2/Users/${s.id}`)).body.active).toBe(true);
    clock += 60_000;
    sandbox.store.setState(s.id, 'complained');
    const seen = await get(a, `/scim/v2/Users/${s.id}`);
    expect(seen.body.active).toBe(false);
    expect(seen.body.meta.lastModified).toBe(new Date(clock).toISOString());
    clock += 60_000;
    const other = await get(b, `/scim/v2/Users/${s.id}`);
    expect(other.body.meta.lastModified).toBe(seen.body.meta.lastModified);
    expect(other.headers.etag).toBe(seen.headers.etag);
    const feed = await b.scim().tracking.journal.read(clock - 120_000, 10);
    expect(feed).toEqual([
      {
        subscriberId: s.id,
        at: clock - 60_000,
        kind: 'state',
        source: 'reread',
        state: 'complained',
        kitStamp: expect.any(String),
      },
    ]);
  });
});
