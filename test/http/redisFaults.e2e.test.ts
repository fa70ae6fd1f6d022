import request from 'supertest';
import { maxInWindow } from '../../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';

// The Redis chaos run (bench/redisChaos.ts), as a test: two server processes share a redis-server of this test's own
// while an IdP-style client pushes through both. Redis is paused, killed and restarted empty, flushed, and left idle
// past the limiter key's TTL. After each fault both replicas serve again without a restart, no request hangs past the
// client's bound, /readyz is red during the fault and green after, and Kit's window is never exceeded.

const TOKEN = 'chaos-token-0123456789-abcdefghijklmnopqrstuv';
const CLIENT_BOUND_MS = 10_000;

(hasRedisServer ? describe : describe.skip)('two replicas across Redis faults', () => {
  let redis: PrivateRedis;
  let sandbox: KitSandbox;
  let replicas: ServerProcess[];
  let seq = 0;
  const outcomes: Array<number | 'timeout'> = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    // Kit's window: 20 calls per 2 s; the replicas' budget 18 leaves two calls for the moments the replicas
    // switch between the shared book and their fallback books.
    sandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
    const env = {
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `idp=${TOKEN}`,
      REDIS_URL: redis.url,
      KIT_RATE_LIMIT_PER_MINUTE: '18',
      KIT_RATE_WINDOW_MS: '2000',
      KIT_MAX_WAIT_MS: '4000',
      REDIS_COMMAND_TIMEOUT_MS: '300',
      REDIS_PROBE_INTERVAL_MS: '200',
      KIT_LIMITER_KEY_TTL_MS: '1000',
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'info',
    };
    replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    await eventually(async () => (await Promise.all(replicas.map(ready))).every(Boolean), 100, 100);
  }, 60_000);

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await sandbox?.close();
    await redis?.stop();
  });

  const ready = async (r: ServerProcess) => (await request(r.url).get('/readyz')).status === 200;

  /** One IdP request through replica `i % 2`: a create, or a lookup by userName. */
  async function send(i: number): Promise<number | 'timeout'> {
    const replica = replicas[i % 2];
    const req =
      i % 3 === 0
        ? request(replica.url)
            .post('/scim/v2/Users')
            .send({
              schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
              userName: `chaos-${++seq}@example.com`,
              name: { givenName: 'Chaos' },
            })
        : request(replica.url).get(
            `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "chaos-${seq}@example.com"`)}`,
          );
    try {
      const res = await req.set('Authorization', `Bearer ${TOKEN}`).timeout(CLIENT_BOUND_MS);
      if (res.status === 503) expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      outcomes.push(res.status);
      return res.status;
    } catch {
      outcomes.push('timeout');
      return 'timeout';
    }
  }

  async function push(n: number): Promise<Array<number | 'timeout'>> {
    return Promise.all(Array.from({ length: n }, (_, i) => send(i)));
  }

  /** Both replicas answer 2xx to fresh requests again, and /readyz is green on both. */
  async function servingAgain(): Promise<void> {
    await eventually(async () => (await Promise.all(replicas.map(ready))).every(Boolean), 100, 100);
    await eventually(async () => (await push(4)).every((s) => s === 200 || s === 201), 20, 100);
  }

  it('serves while Redis is paused (SIGSTOP 15 s), and is shared again after', async () => {
    expect((await push(6)).every((s) => s === 200 || s === 201)).toBe(true);
    redis.pause();
    try {
      await eventually(async () => !(await Promise.all(replicas.map(ready))).some(Boolean), 50, 100);
      const during = await push(6);
      // The per-replica fallback budget keeps provisioning going.
      expect(during.filter((s) => s === 200 || s === 201).length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 15_000 - 2000));
      expect((await Promise.all(replicas.map(ready))).some(Boolean)).toBe(false);
    } finally {
      redis.resume();
    }
    await servingAgain();
  }, 90_000);

  it('serves again after Redis is killed and restarted empty', async () => {
    await redis.kill();
    await eventually(async () => !(await Promise.all(replicas.map(ready))).some(Boolean), 50, 100);
    await push(3);
    await redis.restart();
    await servingAgain();
  }, 60_000);

  it('serves again after FLUSHALL', async () => {
    await redis.command((r) => r.flushall());
    await servingAgain();
  }, 60_000);

  it('serves again after the limiter key expired while idle', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    expect(await redis.command((r) => r.keys('kscim:limiter:*:next'))).toEqual([]);
    await servingAgain();
  }, 60_000);

  it('no request waited past the bound, and Kit never saw more than its window allows', () => {
    expect(outcomes.filter((o) => o === 'timeout')).toEqual([]);
    expect(outcomes.filter((o) => o !== 200 && o !== 201 && o !== 503)).toEqual([]);
    const { log } = sandbox.calls();
    expect(
      maxInWindow(
        log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(20);
    expect(sandbox.calls().rateLimited).toBe(0);
  });
});
