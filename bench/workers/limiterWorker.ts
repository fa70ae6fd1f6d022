import { createInterface } from 'node:readline';
import { KitClient } from '../../src/kit/client';
import { createKitLimiter } from '../../src/kit/limiter';
import { sharedSlots } from '../../src/kit/slots';
import { RedisLink } from '../../src/platform/redisLink';

// One replica for the two-process limiter benchmark: joins the Redis-shared limiter, prints "ready", waits for
// "go" on stdin, then keeps CONCURRENCY callers busy until DURATION_MS is over and prints a JSON summary.

async function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is required`);
    return v;
  };
  const link = new RedisLink({ url: env('REDIS_URL') });
  if (!(await link.waitHealthy(10_000))) throw new Error(`Redis does not answer: ${link.detail}`);
  const id = env('LIMITER_ID');
  const windowMs = Number(env('WINDOW_MS'));
  // No fallback: a replica that lost Redis must fail loudly here, not quietly book on its own.
  const limiter = createKitLimiter({
    id,
    budget: Number(env('BUDGET')),
    windowMs,
    slots: sharedSlots(link, { id, windowMs, fallbackReplicas: 0 }),
  });
  let rateLimitedSeen = 0;
  const client = new KitClient({
    baseUrl: env('SANDBOX_URL'),
    credentials: { kind: 'apiKey', apiKey: env('API_KEY') },
    limiter,
    onCall: (r) => {
      if (r.status === 429) rateLimitedSeen++;
    },
  });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });
  const deadline = Date.now() + Number(env('DURATION_MS'));
  let ok = 0;
  let failed = 0;
  const caller = async () => {
    while (Date.now() < deadline) {
      try {
        await client.account({ priority: 'background' });
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Number(env('CONCURRENCY')) }, caller));
  process.stdout.write(`${JSON.stringify({ ok, failed, rateLimitedSeen })}\n`);
  await limiter.stop();
  await link.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`worker failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
