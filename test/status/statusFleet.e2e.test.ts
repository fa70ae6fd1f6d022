import request from 'supertest';
import { ManualClock } from '../support/clock';
import { ReplicaRoster } from '../../src/status/fleet';
import { RedisLink } from '../../src/platform/redisLink';
import { type Fleet, startFleet } from '../support/fleet';
import { oktaUser, READONLY_TOKEN, TOKEN } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';

// The fleet's figures on /status: two replicas on one private Redis and one Kit credential. The Kit calls per
// minute are the shared limiter's booked slots (every call of every replica, counted once); each replica
// publishes its own row.

const HOST = 'status.test';
const describeFleet = hasRedisServer ? describe : describe.skip;

async function statusPage(app: Fleet['replicas'][number]['app']): Promise<string> {
  const login = await request(app)
    .post('/status/login')
    .set('Host', HOST)
    .set('Origin', `http://${HOST}`)
    .type('form')
    .send({ token: READONLY_TOKEN });
  const cookie = ([] as string[]).concat(login.headers['set-cookie'])[0].split(';')[0];
  const page = await request(app).get('/status').set('Cookie', cookie);
  expect(page.status).toBe(200);
  return page.text;
}

const fleetCalls = (html: string) => Number(/<span class="fleet-calls">(\d+)<\/span>/.exec(html)?.[1]);
const replicaRows = (html: string) =>
  [...html.matchAll(/<tr class="replica-row" data-replica="([^"]+)">/g)].map((m) => m[1]);

describeFleet('/status across replicas', () => {
  let redis: PrivateRedis;
  let fleet: Fleet;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    fleet = await startFleet(redis.url);
  });
  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  it('shows the Kit calls of both replicas once each, and a row per replica, whichever replica answers', async () => {
    const [a, b] = fleet.replicas;
    // Calls made before Redis answered (start-up) were booked from the fallback book: counted from here on.
    const before = fleetCalls(await statusPage(b.app));
    fleet.sandbox.resetCalls();
    const send = (app: typeof a.app, email: string) =>
      request(app)
        .post('/scim/v2/Users')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify(oktaUser(email)));
    expect((await send(a.app, 'fleet.a1@example.com')).status).toBe(201);
    expect((await send(a.app, 'fleet.a2@example.com')).status).toBe(201);
    expect((await send(b.app, 'fleet.b1@example.com')).status).toBe(201);

    const fromA = await statusPage(a.app);
    const fromB = await statusPage(b.app);
    // Every call the sandbox answered since was booked once in the shared book, whichever replica made it.
    const answered = fleet.sandbox.calls().total;
    expect(answered).toBeGreaterThanOrEqual(3);
    expect(fleetCalls(fromA) - before).toBe(answered);
    expect(fleetCalls(fromB) - before).toBe(answered);
    expect(replicaRows(fromA)).toHaveLength(2);
    expect(replicaRows(fromB).sort()).toEqual(replicaRows(fromA).sort());
    expect(fromA).not.toContain('this replica only');
    expect(fromA).toMatch(/<td class="ok">ready<\/td><td class="last-seen">/);
  });
});

describeFleet('the replica roster', () => {
  it('drops a replica that stopped publishing once its row expires, showing its last row until then', async () => {
    const redis = await PrivateRedis.start();
    const link = new RedisLink({ url: redis.url });
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const row = (replica: string) => () => ({
      replica,
      queued: 0,
      waits: 1,
      meanWaitMs: 2,
      maxWaitMs: 3,
      rateLimited: 0,
      ready: true,
      shared: true,
    });
    const roster = (name: string, ttlMs: number) =>
      new ReplicaRoster({ link, prefix: 'kscim:test:status:', clock, row: row(name), ttlMs });
    try {
      await link.waitHealthy(5000);
      const stays = roster('stays', 60_000);
      const stops = roster('stops', 300);
      await stays.publish();
      await stops.publish();
      expect((await stays.rows())?.map((r) => r.replica)).toEqual(['stays', 'stops']);
      await eventually(async () => (await stays.rows())?.length === 1);
      expect((await stays.rows())?.map((r) => r.replica)).toEqual(['stays']);
      // The index no longer names the expired row either.
      expect(await redis.command((r) => r.smembers('kscim:test:status:replicas'))).toEqual(['stays']);
    } finally {
      await link.close();
      await redis.stop();
    }
  });
});
