import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import Redis from 'ioredis';
import { createKitLimiter, type KitLimiter } from '../../src/kit/limiter';
import { maxInWindow } from '../../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '../../src/sandbox';
import { describeRedis, redisUrl } from '../support/redis';
import { realSleep, uniqueId } from './support';

// Several processes sharing one credential share one budget through Redis (Bottleneck clustering).

async function deleteLimiterKeys(redis: Redis, id: string): Promise<void> {
  const keys = await redis.keys(`b_${id}_*`);
  if (keys.length > 0) await redis.del(...keys);
}

interface WorkerResult {
  ok: number;
  failed: string[];
  elapsedMs: number;
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

describeRedis('Redis-shared limiter', () => {
  let redis: Redis;
  let sb: KitSandbox;
  const ids: string[] = [];
  const limiters: KitLimiter[] = [];

  beforeAll(() => {
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    await redis.quit();
  });
  beforeEach(async () => {
    sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
  });
  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.stop()));
    await sb.close();
    for (const id of ids.splice(0)) await deleteLimiterKeys(redis, id);
  });

  const newId = () => {
    const id = uniqueId('kit-redis-test');
    ids.push(id);
    return id;
  };
  const shared = (id: string, budget = 100, windowMs = 1000) => {
    const l = createKitLimiter({ id, budget, windowMs, redisUrl });
    limiters.push(l);
    return l;
  };

  it('two processes together never exceed the budget: no 429, at most 12 calls in any 2 s', async () => {
    sb.setRateLimit({ max: 12, windowMs: 2000 });
    const id = newId();
    const env = {
      SANDBOX_URL: sb.url,
      API_KEY: sb.apiKey,
      REDIS_URL: redisUrl!,
      LIMITER_ID: id,
      CALLS: '25',
      BUDGET: '12',
      WINDOW_MS: '2000',
    };
    const workers = [startWorker(env), startWorker(env)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin.write('go\n');
    const results = await Promise.all(workers.map((w) => w.result));

    expect(results.map((r) => r.ok)).toEqual([25, 25]);
    expect(results.flatMap((r) => r.failed)).toEqual([]);
    const { log, rateLimited, total } = sb.calls();
    expect(total).toBe(50);
    expect(rateLimited).toBe(0);
    expect(
      maxInWindow(
        log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(12);
    // They shared one pace: 50 calls 175 ms apart, not two independent 25-call runs.
    const span = Math.max(...log.map((c) => c.at)) - Math.min(...log.map((c) => c.at));
    expect(span).toBeGreaterThanOrEqual(49 * 175 - 200);
    expect(await redis.exists(`b_${id}_settings`)).toBe(1);
  }, 60_000);

  it('shares the spacing between limiters in one process too', async () => {
    const id = newId();
    const a = shared(id, 10, 1000); // 105 ms apart
    const b = shared(id, 10, 1000);
    await Promise.all([a.ready(), b.ready()]);
    const starts: number[] = [];
    const job = async () => void starts.push(Date.now());
    await Promise.all([
      ...Array.from({ length: 4 }, () => a.schedule(job)),
      ...Array.from({ length: 4 }, () => b.schedule(job)),
    ]);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(7 * 105 - 30);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(10);
  });

  it('a 429 pause reaches every sharer, including one that joins during the pause', async () => {
    const id = newId();
    const a = shared(id);
    const b = shared(id);
    await Promise.all([a.ready(), b.ready()]);
    const paused = Date.now();
    a.pauseFor(600);
    await realSleep(50); // pub/sub delivery
    expect(b.counts().pausedForMs).toBeGreaterThan(400);
    const late = shared(id);
    await late.ready();
    expect(late.counts().pausedForMs).toBeGreaterThan(300);
    let startedAt = 0;
    await b.schedule(async () => {
      startedAt = Date.now();
    });
    expect(startedAt - paused).toBeGreaterThanOrEqual(590);
    expect(await redis.pttl(`b_${id}_kit_pause`)).toBeLessThanOrEqual(0);
  });
});
