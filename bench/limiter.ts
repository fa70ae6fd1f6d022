import { spawn } from 'node:child_process';
import path from 'node:path';
import Redis from 'ioredis';
import { KitClient } from '../src/kit/client';
import { createKitLimiter } from '../src/kit/limiter';
import { KIT_MAX_BUDGET, KIT_WINDOW_MS, maxInWindow } from '../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';

// Sustained calls per minute through the adapter against Kit's real window (120 per rolling 60 s), in one
// process and in two processes sharing the limiter through Redis. Target: >= 95 % of the budget, zero 429s.
//   BENCH_LIMITER_SECONDS (default 130)   how long each half runs
//   BENCH_LIMITER_CONCURRENCY (default 4) callers per process keeping the queue full
//   REDIS_URL (default redis://127.0.0.1:6379) for the two-process half; skipped when nothing answers

const BUDGET = KIT_MAX_BUDGET;
const WINDOW_MS = KIT_WINDOW_MS;

interface Figures {
  label: string;
  calls: number;
  durationMs: number;
  rateLimited: number;
  maxIn60s: number;
  failed: number;
}

function report(f: Figures): void {
  const perMinute = (f.calls / f.durationMs) * 60_000;
  const ratio = perMinute / BUDGET;
  const verdict = ratio >= 0.95 && f.rateLimited === 0 ? 'PASS' : 'FAIL';
  console.log(
    [
      `${f.label}:`,
      `  calls/min           ${perMinute.toFixed(1)} (${f.calls} calls in ${(f.durationMs / 1000).toFixed(1)} s)`,
      `  ratio to budget     ${(ratio * 100).toFixed(1)} % of ${BUDGET}/min`,
      `  429s seen by Kit    ${f.rateLimited}`,
      `  max in any 60 s     ${f.maxIn60s} (limit ${BUDGET})`,
      `  failed calls        ${f.failed}`,
      `  verdict             ${verdict} (target >= 95 % and 0 x 429)`,
    ].join('\n'),
  );
}

/** Calls Kit accepted within [start, start + durationMs), from the sandbox's own arrival log. */
function figures(label: string, sb: KitSandbox, start: number, durationMs: number, failed: number): Figures {
  const { log, rateLimited } = sb.calls();
  const inRun = log.filter((c) => c.at >= start && c.at < start + durationMs);
  return {
    label,
    calls: inRun.filter((c) => c.status === 200).length,
    durationMs,
    rateLimited,
    maxIn60s: maxInWindow(
      log.map((c) => c.at),
      WINDOW_MS,
    ),
    failed,
  };
}

async function singleProcess(durationMs: number, concurrency: number): Promise<void> {
  const sb = await startKitSandbox({ rateLimit: { max: BUDGET, windowMs: WINDOW_MS } });
  const limiter = createKitLimiter({ id: `bench-local-${process.pid}`, budget: BUDGET, windowMs: WINDOW_MS });
  const client = new KitClient({ baseUrl: sb.url, credentials: { kind: 'apiKey', apiKey: sb.apiKey }, limiter });
  console.log(`one process: ${concurrency} callers, spacing ${limiter.spacingMs} ms, ${durationMs / 1000} s`);
  const start = Date.now();
  const deadline = start + durationMs;
  let failed = 0;
  const caller = async () => {
    while (Date.now() < deadline) await client.account({ priority: 'background' }).catch(() => failed++);
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  report(figures('one process', sb, start, durationMs, failed));
  await limiter.stop();
  await sb.close();
}

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function twoProcesses(durationMs: number, concurrency: number, redisUrl: string): Promise<void> {
  const sb = await startKitSandbox({ rateLimit: { max: BUDGET, windowMs: WINDOW_MS } });
  const id = `bench-redis-${process.pid}-${Date.now().toString(36)}`;
  const env = {
    ...process.env,
    SANDBOX_URL: sb.url,
    API_KEY: sb.apiKey,
    REDIS_URL: redisUrl,
    LIMITER_ID: id,
    BUDGET: String(BUDGET),
    WINDOW_MS: String(WINDOW_MS),
    DURATION_MS: String(durationMs),
    CONCURRENCY: String(concurrency),
  };
  const workerFile = path.join(__dirname, 'workers', 'limiterWorker.ts');
  const workers = [0, 1].map(() => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), workerFile], {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    let markReady: () => void;
    const ready = new Promise<void>((r) => {
      markReady = r;
    });
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes('ready\n')) markReady();
    });
    const done = new Promise<{ ok: number; failed: number }>((resolve, reject) =>
      child.on('exit', (code) => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (code === 0 && line) resolve(JSON.parse(line));
        else reject(new Error(`bench worker exited with ${code}`));
      }),
    );
    return { child, ready, done };
  });
  await Promise.all(workers.map((w) => w.ready));
  console.log(`two processes over Redis: ${concurrency} callers each, ${durationMs / 1000} s`);
  const start = Date.now();
  for (const w of workers) w.child.stdin.write('go\n');
  const results = await Promise.all(workers.map((w) => w.done));
  const failed = results.reduce((n, r) => n + r.failed, 0);
  report(figures('two processes (Redis)', sb, start, durationMs, failed));
  console.log(`  per process         ${results.map((r) => r.ok).join(' + ')} calls`);
  await sb.close();
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`b_${id}_*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

export async function run(): Promise<void> {
  const durationMs = Number(process.env.BENCH_LIMITER_SECONDS ?? 130) * 1000;
  const concurrency = Number(process.env.BENCH_LIMITER_CONCURRENCY ?? 4);
  await singleProcess(durationMs, concurrency);
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) await twoProcesses(durationMs, concurrency, redisUrl);
  else console.log(`\n!!! two-process half SKIPPED: no Redis answers at ${redisUrl} (set REDIS_URL) !!!`);
}
