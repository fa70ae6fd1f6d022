import request from 'supertest';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { SharedSlotBook, slotBookKeys } from '../../src/kit/slots';
import { maxInWindow } from '../../src/kit/spacing';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { SCIM_EVENT } from '../../src/events/securityEvent';
import { PushReceiver } from '../events/receiver';
import { eventually } from '../support/privateRedis';
import { ClusterTopology, hasRedisTopologies, SentinelTopology, failoverServerEnv } from '../support/redisTopologies';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';

// Sentinel and cluster topologies of real redis-server processes: the link follows a failover by itself, the
// shared limiter's scripts run on a cluster (their keys share one hash slot), and two server processes keep
// serving across a primary's death within Kit's window, without a restart; a push receiver configured on both
// gets exactly one SET per change across the failover.

const describeTopologies = hasRedisTopologies ? describe : describe.skip;
const TOKEN = 'topology-token-0123456789abcdef012345678';
const PUSH_TOKEN = 'topology-push-0123456789abcdef0123456789';

async function twoServers(
  redisEnv: Record<string, string>,
  sandbox: KitSandbox,
  receiver: PushReceiver,
): Promise<ServerProcess[]> {
  const env = failoverServerEnv({
    redisEnv,
    kit: sandbox,
    scimToken: TOKEN,
    push: { token: PUSH_TOKEN, url: receiver.url },
  });
  const started = await Promise.allSettled([startServerProcess(env, 60_000), startServerProcess(env, 60_000)]);
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  return servers;
}

/** A topology, a Kit sandbox, a push receiver and two server processes on them, for one describe block. */
function failoverFixture<T extends SentinelTopology | ClusterTopology>(start: () => Promise<T>) {
  const f = {} as { topology: T; sandbox: KitSandbox; servers: ServerProcess[]; receiver: PushReceiver };
  beforeAll(async () => {
    f.topology = await start();
    f.sandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
    f.receiver = await new PushReceiver(PUSH_TOKEN).start();
    f.servers = await twoServers(f.topology.env, f.sandbox, f.receiver);
  }, 90_000);
  afterAll(async () => {
    await Promise.all((f.servers ?? []).map((s) => s.stop()));
    await f.receiver?.close();
    await f.sandbox?.close();
    await f.topology?.stop();
  });
  return f;
}

const createUser = (server: ServerProcess, email: string) =>
  request(server.url)
    .post('/scim/v2/Users')
    .set('Authorization', `Bearer ${TOKEN}`)
    .set('Content-Type', 'application/scim+json')
    .send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, active: true });

/**
 * Both servers provision one user each, over and over, until `done`; the statuses each saw are kept, and the
 * time (ms since start) of each server's last failure.
 */
function provisionUntil(servers: ServerProcess[], done: () => boolean) {
  const statuses: number[] = [];
  const lastFailureAt = servers.map(() => 0);
  const lastSuccessAt = servers.map(() => 0);
  const created: string[] = [];
  const start = Date.now();
  let n = 0;
  const loops = servers.map(async (server, i) => {
    while (!done()) {
      const res = await createUser(server, `topo-${i}-${n++}-${start}@kit.example`);
      statuses.push(res.status);
      if (res.status === 201) {
        lastSuccessAt[i] = Date.now();
        created.push(String(res.body.id));
      } else lastFailureAt[i] = Date.now();
    }
  });
  return { statuses, lastFailureAt, lastSuccessAt, created, finished: Promise.all(loops) };
}

/**
 * Every user created (201) is announced, and every change the receiver heard of is announced under one jti: a
 * SET re-sent after the failover carries the jti it had (the receiver drops it), never a new one.
 */
async function expectOneSetPerChange(receiver: PushReceiver, created: string[]): Promise<void> {
  expect(created.length).toBeGreaterThan(0);
  const createdKey = (id: string) => `/Users/${id} ${SCIM_EVENT.createNotice}`;
  await eventually(() => created.every((id) => receiver.setsPerChange().has(createdKey(id))), 200, 100);
  const perChange = receiver.setsPerChange();
  expect([...perChange.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  expect(created.filter((id) => perChange.get(createdKey(id)) !== 1)).toEqual([]);
}

type ProvisionRun = ReturnType<typeof provisionUntil>;

/**
 * Two servers provision while `failOver` promotes a replica: both succeed again within 10 s of it, Kit never
 * answers 429 and no 2 s window holds more than 20 calls, and the IdP sees 201 or a retryable 503, never a 500.
 */
async function provisionThroughFailover(
  f: { servers: ServerProcess[]; sandbox: KitSandbox },
  failOver: () => Promise<void>,
): Promise<ProvisionRun> {
  f.sandbox.resetCalls();
  let stop = false;
  const run = provisionUntil(f.servers, () => stop);
  await new Promise((r) => setTimeout(r, 3000));
  await failOver();
  const promotedAt = Date.now();
  await eventually(() => run.lastSuccessAt.every((t) => t > promotedAt), 100, 100);
  expect(Math.max(...run.lastSuccessAt) - promotedAt).toBeLessThan(10_000);
  await new Promise((r) => setTimeout(r, 2000));
  stop = true;
  await run.finished;
  const calls = f.sandbox.calls();
  expect(calls.rateLimited).toBe(0);
  expect(
    maxInWindow(
      calls.log.map((c) => c.at),
      2000,
    ),
  ).toBeLessThanOrEqual(20);
  expect(run.statuses.every((s) => s === 201 || s === 503)).toBe(true);
  return run;
}

describeTopologies('Redis Sentinel', () => {
  let topology: SentinelTopology;
  beforeAll(async () => {
    topology = await SentinelTopology.start();
  }, 60_000);
  afterAll(async () => {
    await topology?.stop();
  });

  it('the link follows the sentinels to the new primary, and shows it', async () => {
    const link = new RedisLink({
      topology: {
        mode: 'sentinel',
        sentinels: topology.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
        name: topology.name,
        tls: false,
      },
      commandTimeoutMs: 2000,
      replicaAckTimeoutMs: 1000,
      probeIntervalMs: 100,
    });
    try {
      expect(await link.waitHealthy(5000)).toBe(true);
      expect(link.state()).toMatchObject({ mode: 'sentinel', primary: `127.0.0.1:${topology.primary.port}` });
      const id = `sentinel-${Date.now()}`;
      const book = new SharedSlotBook({
        link,
        id,
        spacingMs: 10,
        windowMs: 1000,
        clock: systemClock,
        fallbackReplicas: 0,
      });
      await book.book();
      expect(book.shared).toBe(true);
      const next = await topology.failOver();
      await eventually(async () => link.healthy && link.state().primary === `127.0.0.1:${next}`, 300, 100);
      expect(link.state().failoverInProgress).toBe(false);
      // The booking made before the failover was acknowledged by the replica now primary: it is still there.
      expect(await link.run((c) => c.get(slotBookKeys(id).next))).not.toBeNull();
      // The promoted replica has no replica of its own: a slot WAIT cannot confirm is not used.
      await expect(book.book()).rejects.toThrow(/limiter is unavailable/);
    } finally {
      await link.close();
    }
  }, 60_000);
});

describeTopologies('Redis Sentinel: two servers across a failover', () => {
  const f = failoverFixture(() => SentinelTopology.start());

  it('both keep serving within 10 s of the new primary, and Kit’s window holds', async () => {
    const readyz = await request(f.servers[0].url).get('/readyz');
    expect(readyz.body.redis).toMatchObject({ mode: 'sentinel', primary: `127.0.0.1:${f.topology.primary.port}` });
    const run = await provisionThroughFailover(f, async () => {
      await f.topology.failOver();
    });
    // Each server's link settles on the new primary at its own probe (a loaded machine delays one of them).
    for (const server of f.servers) {
      let redis: Record<string, unknown> = {};
      await eventually(
        async () => {
          redis = (await request(server.url).get('/readyz')).body.redis;
          return redis.failoverInProgress === false;
        },
        100,
        100,
      );
      expect(redis).toMatchObject({ mode: 'sentinel', failoverInProgress: false });
    }
    await expectOneSetPerChange(f.receiver, run.created);
  }, 90_000);
});

describeTopologies('Redis Cluster', () => {
  const f = failoverFixture(() => ClusterTopology.start());

  it('two servers provision on three shards, and keep serving when one shard’s primary dies', async () => {
    const readyz = await request(f.servers[0].url).get('/readyz');
    expect(readyz.body.redis).toMatchObject({ mode: 'cluster', shards: 3 });
    const run = await provisionThroughFailover(f, async () => {
      await f.topology.failOver((await f.topology.primaryPorts())[0]!);
    });
    await expectOneSetPerChange(f.receiver, run.created);
  }, 120_000);
});
