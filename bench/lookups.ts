import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../src/config/environment';
import { startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../src/app/service';

// The lookup mirror: `externalId eq` lookups over BENCH_LOOKUP_SUBSCRIBERS (100,000) subscribers, counted in Kit calls
// (the sandbox's own counters) with latency per lookup. The default configuration without webhooks
// (MIRROR=lookups): 100 lookups with distinct values right after start-up (cold: the first walks the account
// once) and 100 more with other values (warm); then, for comparison, BENCH_OFF_LOOKUPS (3) lookups with
// MIRROR=off, each a walk of its own. The sandbox and the server run in this process; Kit's budget of 120
// calls runs over a short window (BENCH_WINDOW_MS, 2,000 ms) so the cold walk takes seconds, not minutes: at
// Kit's real 60 s window the cold walk's ceil(N/1000) calls take ceil(N/1000)/120 minutes of budget.

const SUBSCRIBERS = Number(process.env.BENCH_LOOKUP_SUBSCRIBERS ?? 100_000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 2000);
const OFF_LOOKUPS = Number(process.env.BENCH_OFF_LOOKUPS ?? 3);
const LOOKUPS = 100;
const TOKEN = 'bench-lookups-token-0123456789abcdef01234';

interface Figures {
  calls: number;
  byEndpoint: Record<string, number>;
  totalSeconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  hits: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function scenario(mirror: 'lookups' | 'off') {
  const sandbox = await startKitSandbox({ rateLimit: { max: 120, windowMs: WINDOW_MS } });
  sandbox.store.seedSubscribers(SUBSCRIBERS, { emailPrefix: 'bench-lookup-' });
  const config = loadConfig({
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `entra=${TOKEN}`,
    KIT_RATE_WINDOW_MS: String(WINDOW_MS),
    KIT_MAX_WAIT_MS: String(Math.max(25_000, WINDOW_MS * 2)),
    MIRROR: mirror,
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
  });
  const service = new Service({ config, logger: pino({ level: 'silent' }) });
  await service.bootstrap();
  const app = service.app;
  // Users the IdP created, so some lookups find someone (an IdP's lookups mostly do).
  const run = Date.now();
  for (let i = 0; i < 10; i++) {
    const upn = `bench.lookup.${run}.${i}@contoso.example`;
    const res = await request(app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('Content-Type', 'application/scim+json')
      .send(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: upn,
          externalId: `oid-${run}-${i}`,
          emails: [{ primary: true, type: 'work', value: upn }],
        }),
      );
    if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const lookups = async (values: string[]): Promise<Figures> => {
    sandbox.resetCalls();
    const latencies: number[] = [];
    let hits = 0;
    const started = performance.now();
    for (const value of values) {
      const t = performance.now();
      const res = await request(app)
        .get(`/scim/v2/Users?filter=${encodeURIComponent(`externalId eq "${value}"`)}`)
        .set('Authorization', `Bearer ${TOKEN}`);
      latencies.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`lookup: ${res.status} ${JSON.stringify(res.body)}`);
      hits += res.body.totalResults;
    }
    const totalSeconds = (performance.now() - started) / 1000;
    const stats = sandbox.calls();
    latencies.sort((a, b) => a - b);
    return {
      calls: stats.total,
      byEndpoint: stats.byEndpoint,
      totalSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1],
      hits,
    };
  };
  // Distinct values; every tenth one belongs to a user created above.
  const values = (round: string, n: number) =>
    Array.from({ length: n }, (_, i) => (i % 10 === 0 ? `oid-${run}-${i / 10}` : `oid-${round}-${i}-${run}`));
  return {
    sandbox,
    service,
    lookups,
    values,
    async close() {
      await service.close();
      await sandbox.close();
    },
  };
}

function print(label: string, f: Figures): void {
  console.log(
    `${label.padEnd(34)} Kit calls ${String(f.calls).padStart(5)}  total ${f.totalSeconds.toFixed(2)} s  ` +
      `p50 ${f.p50Ms.toFixed(2)} ms  p99 ${f.p99Ms.toFixed(2)} ms  max ${f.maxMs.toFixed(2)} ms  found ${f.hits}  ` +
      JSON.stringify(f.byEndpoint),
  );
}

export async function run(): Promise<void> {
  console.log(
    `${SUBSCRIBERS} subscribers, Kit budget 120 calls / ${WINDOW_MS} ms (Kit's own: 120 / 60,000 ms), ` +
      `${LOOKUPS} externalId eq lookups with distinct values, one at a time`,
  );
  setFlagsFromString('--expose-gc');
  const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as (() => void) | undefined);

  const on = await scenario('lookups');
  try {
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const cold = await on.lookups(on.values('cold', LOOKUPS));
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    print('MIRROR=lookups, cold (100 lookups)', cold);
    const warm = await on.lookups(on.values('warm', LOOKUPS));
    print('MIRROR=lookups, warm (100 lookups)', warm);
    console.log(
      `target: cold <= ceil(N/1000)+1 = ${Math.ceil(SUBSCRIBERS / 1000) + 1} calls; warm 0 calls, p99 <= 10 ms`,
    );
    console.log(
      `lookup mirror in process after the walk: heap growth ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB ` +
        `(records and indexes of ${SUBSCRIBERS} subscribers; the sandbox's own store was seeded before)`,
    );
  } finally {
    await on.close();
  }

  const off = await scenario('off');
  try {
    const cold = await off.lookups(off.values('off', OFF_LOOKUPS).map((v, i) => (i === 0 ? `${v}-x` : v)));
    print(`MIRROR=off (${OFF_LOOKUPS} lookups, for comparison)`, cold);
    console.log(`MIRROR=off: ${(cold.calls / OFF_LOOKUPS).toFixed(1)} Kit calls per lookup`);
  } finally {
    await off.close();
  }
}
