import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { systemClock } from '../../src/platform/clock';
import { KitClient } from '../../src/kit/client';
import { KitLimiterUnavailableError } from '../../src/kit/errors';
import { createKitLimiter, type KitLimiter } from '../../src/kit/limiter';
import { SharedSlotBook, sharedSlots, slotBookKeys } from '../../src/kit/slots';
import { maxInWindow } from '../../src/kit/spacing';
import { RedisLink } from '../../src/platform/redisLink';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { ManualClock } from '../support/clock';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { describeRedis, redisUrl } from '../support/redis';
import { uniqueId } from './support';

// Several processes sharing one credential share one budget through a slot book in Redis (slots.ts), and the
// book heals from every Redis fault without a restart. Arrival times come from the sandbox's call log.

interface WorkerResult {
  ok: number;
  failed: string[];
  /** Exchanges with Kit, retries after a timeout included. */
  exchanges: number;
}

function startWorker(env: Record<string, string>): {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  result: Promise<WorkerResult>;
} {
  const child = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), path.join(__dirname, 'fixtures', 'limiterWorker.ts')],
    {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let signalReady: () => void;
  const ready = new Promise<void>((r) => {
    signalReady = r;
  });
  child.stdout.on('data', (d) => {
    out += d.toString();
    if (out.includes('ready\n')) signalReady();
  });
  child.stderr.on('data', (d) => {
    err += d.toString();
  });
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`worker exited ${code}: ${err}`));
    });
  });
  return { child, ready, result };
}

/**
 * The limiter keeps Kit's window only while a call reaches Kit less than its safety margin after its slot
 * (spacing.ts). The default margin is 5 % of the window, 100 ms at these 2 s test windows: less than the timer
 * lateness of a CPU-starved machine, where the arrivals then bunch and Kit answers 429. 500 ms covers it, as
 * the whole second does at Kit's real window.
 */
const LATENESS_MARGIN_MS = 500;

describeRedis('Redis-shared limiter', () => {
  let sb: KitSandbox;
  const links: RedisLink[] = [];
  const limiters: KitLimiter[] = [];

  beforeEach(async () => {
    sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
  });
  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.stop()));
    await Promise.all(links.splice(0).map((l) => l.close()));
    await sb.close();
  });

  async function link(url = redisUrl!): Promise<RedisLink> {
    const l = new RedisLink({ url, commandTimeoutMs: 300, probeIntervalMs: 100 });
    links.push(l);
    expect(await l.waitHealthy(5000)).toBe(true);
    return l;
  }
  function shared(l: RedisLink, id: string, budget = 10, windowMs = 1000, fallbackReplicas = 0) {
    const limiter = createKitLimiter({
      id,
      budget,
      windowMs,
      safetyMs: LATENESS_MARGIN_MS,
      slots: sharedSlots(l, { id, windowMs, fallbackReplicas }),
    });
    limiters.push(limiter);
    return new KitClient({ baseUrl: sb.url, credentials: { kind: 'apiKey', apiKey: sb.apiKey }, limiter });
  }

  it('two processes together never exceed the budget: no 429, at most 12 calls in any 2 s', async () => {
    sb.setRateLimit({ max: 12, windowMs: 2000 });
    const env = {
      SANDBOX_URL: sb.url,
      API_KEY: sb.apiKey,
      REDIS_URL: redisUrl!,
      LIMITER_ID: uniqueId('kit-redis-test'),
      CALLS: '20',
      BUDGET: '12',
      WINDOW_MS: '2000',
      SAFETY_MS: String(LATENESS_MARGIN_MS),
    };
    const workers = [startWorker(env), startWorker(env)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin.write('go\n');
    const results = await Promise.all(workers.map((w) => w.result));

    expect(results.map((r) => r.ok)).toEqual([20, 20]);
    expect(results.flatMap((r) => r.failed)).toEqual([]);
    const { log, rateLimited, total } = sb.calls();
    // Every exchange went through the shared book and reached Kit (40, plus any retry of a slow answer).
    expect(results.flatMap((r) => r.exchanges).reduce((a, b) => a + b)).toBe(total);
    expect(total).toBeGreaterThanOrEqual(40);
    expect(rateLimited).toBe(0);
    // One shared book starts calls 209 ms apart (10 in any 2 s; up to 12 when late ones bunch); two
    // independent limiters would each do that, 20 in the first 2 s.
    expect(
      maxInWindow(
        log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(12);
  }, 60_000);

  it('shares the spacing between limiters in one process too', async () => {
    const id = uniqueId('kit-redis-test');
    const l = await link();
    const [a, b] = [shared(l, id, 5, 1000), shared(l, id, 5, 1000)];
    await Promise.all([
      ...Array.from({ length: 4 }, () => a.account()),
      ...Array.from({ length: 4 }, () => b.account()),
    ]);
    // 300 ms apart: 4 in any second, 5 if late ones bunch; two unshared limiters would send 8.
    expect(
      maxInWindow(
        sb.calls().log.map((c) => c.at),
        1000,
      ),
    ).toBeLessThanOrEqual(5);
  });

  it('a 429 pause reaches every sharer, including one that joins during the pause', async () => {
    const id = uniqueId('kit-redis-test');
    const l = await link();
    const book = (ids = id) =>
      new SharedSlotBook({ link: l, id: ids, spacingMs: 10, windowMs: 1000, clock: systemClock, fallbackReplicas: 0 });
    const a = book();
    expect(await a.book()).toBeLessThan(1000);
    a.pause(30_000);
    // Another replica's next slot comes after the pause (less what little time has passed since).
    await eventually(async () => (await l.client.pttl(slotBookKeys(id).pause)) > 0);
    expect(await book().book()).toBeGreaterThan(20_000);
    expect(await book(uniqueId('other')).book()).toBeLessThan(1000);
  });
});

(hasRedisServer ? describe : describe.skip)('the shared slot book heals from Redis faults', () => {
  let redis: PrivateRedis;
  let link: RedisLink;
  const spacingMs = 100;
  beforeEach(async () => {
    redis = await PrivateRedis.start();
    link = new RedisLink({ url: redis.url, commandTimeoutMs: 200, probeIntervalMs: 100 });
    expect(await link.waitHealthy(5000)).toBe(true);
  });
  afterEach(async () => {
    await link.close();
    await redis.stop();
  });
  const book = (opts: { id?: string; fallbackReplicas?: number; keyTtlMs?: number } = {}) =>
    new SharedSlotBook({
      link,
      id: opts.id ?? 'heal',
      spacingMs,
      windowMs: 1000,
      clock: systemClock,
      fallbackReplicas: opts.fallbackReplicas ?? 2,
      keyTtlMs: opts.keyTtlMs,
    });

  it('a key that expired while idle is re-created, after the slots other replicas may still hold', async () => {
    const b = book({ keyTtlMs: 50 });
    await b.book();
    await eventually(async () => (await redis.command((r) => r.exists('kscim:limiter:{heal}:next'))) === 0);
    const delay = await b.book();
    expect(b.shared).toBe(true);
    // Two slots (2 replicas × 1 booked ahead) pass before the first one after the loss.
    expect(delay).toBeGreaterThan(spacingMs);
    expect(delay).toBeLessThanOrEqual(2 * spacingMs);
    expect(await redis.command((r) => r.exists('kscim:limiter:{heal}:next'))).toBe(1);
  });

  it('FLUSHALL: the script and the key come back by themselves', async () => {
    const b = book();
    await b.book();
    await redis.command((r) => r.flushall());
    await redis.command((r) => r.script('FLUSH'));
    const delay = await b.book();
    expect(b.shared).toBe(true);
    expect(delay).toBeGreaterThan(spacingMs);
  });

  it('killed and restarted empty: books from the per-replica fallback meanwhile, shared again after', async () => {
    const changes: boolean[] = [];
    const b = new SharedSlotBook({
      link,
      id: 'heal',
      spacingMs,
      windowMs: 1000,
      // Held still, so the fallback's delays differ by exactly its spacing however long the calls between take.
      clock: new ManualClock(),
      fallbackReplicas: 3,
      onFallback: (fallback) => changes.push(fallback),
    });
    await b.book();
    await redis.kill();
    await eventually(() => !link.healthy);
    const first = await b.book();
    const second = await b.book();
    expect(b.shared).toBe(false);
    // Each replica alone spends budget / 3: its slots are 3 spacings apart.
    expect(second - first).toBe(3 * spacingMs);
    await redis.restart();
    await eventually(() => link.healthy);
    await b.book();
    expect(b.shared).toBe(true);
    expect(changes).toEqual([true, false]);
  });

  it('paused (SIGSTOP): no booking waits past the command timeout; shared again after SIGCONT', async () => {
    const b = book();
    await b.book();
    redis.pause();
    try {
      // The first booking meets the timeout (200 ms) and falls back; later ones do not even try Redis.
      await b.book();
      expect(b.shared).toBe(false);
      expect(link.healthy).toBe(false);
    } finally {
      redis.resume();
    }
    await eventually(() => link.healthy);
    await b.book();
    expect(b.shared).toBe(true);
  });

  it('without a fallback, a booking while Redis is away fails with KitLimiterUnavailableError', async () => {
    const b = book({ fallbackReplicas: 0 });
    await redis.kill();
    await eventually(() => !link.healthy);
    const err = await b.book().catch((e) => e);
    expect(err).toBeInstanceOf(KitLimiterUnavailableError);
    expect(err.message).toMatch(/shared Kit rate limiter is unavailable/);
    expect(err.retryAfterMs).toBeGreaterThan(0);
  });
});
