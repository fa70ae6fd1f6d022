import request from 'supertest';
import { maxInWindow } from '../src/kit/spacing';
import { startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { PrivateRedis } from '../test/support/privateRedis';
import { startServerProcess } from '../test/support/serverProcess';

// Redis faults under an IdP's push: two server processes share a redis-server of this bench's own
// while four IdP workers keep creating and looking up users through both. Each fault is injected and lifted;
// the bench prints what the IdP saw during it (statuses, slowest answer) and how many seconds after Redis
// answered again both replicas were ready and serving. Kit's window here is 20 calls per 2 s, so a run takes
// about a minute; the recovery figures do not depend on the window.

const TOKEN = 'bench-chaos-token-0123456789abcdefghijklmnop';
const PAUSE_SECONDS = Number(process.env.BENCH_REDIS_PAUSE_SECONDS ?? 15);

interface Sample {
  status: number | 'timeout';
  ms: number;
}

export async function run(): Promise<void> {
  const redis = await PrivateRedis.start();
  const sandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
  const env = {
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `idp=${TOKEN}`,
    REDIS_URL: redis.url,
    KIT_RATE_LIMIT_PER_MINUTE: '18',
    KIT_RATE_WINDOW_MS: '2000',
    KIT_MAX_WAIT_MS: '4000',
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'info',
  };
  const replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  const ready = async () =>
    (await Promise.all(replicas.map(async (r) => (await request(r.url).get('/readyz')).status === 200))).every(Boolean);
  while (!(await ready())) await sleep(100);

  let samples: Sample[] = [];
  let stopped = false;
  let seq = 0;
  const worker = async (w: number) => {
    for (let i = w; !stopped; i += 4) {
      const replica = replicas[i % 2];
      const started = performance.now();
      const req =
        i % 3 === 0
          ? request(replica.url)
              .post('/scim/v2/Users')
              .send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `bench-${++seq}@example.com` })
          : request(replica.url).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "bench-${seq}@x.com"`)}`);
      let status: Sample['status'];
      try {
        status = (await req.set('Authorization', `Bearer ${TOKEN}`).timeout(30_000)).status;
      } catch {
        status = 'timeout';
      }
      samples.push({ status, ms: performance.now() - started });
    }
  };
  const workers = [0, 1, 2, 3].map(worker);

  const rows: string[][] = [];
  const phase = async (name: string, fault: () => Promise<void>, lift: () => Promise<void>) => {
    samples = [];
    await fault();
    await lift();
    const answered = performance.now();
    while (!(await ready())) await sleep(50);
    const recovered = (performance.now() - answered) / 1000;
    const during = samples;
    const byStatus = new Map<string, number>();
    for (const s of during) byStatus.set(String(s.status), (byStatus.get(String(s.status)) ?? 0) + 1);
    rows.push([
      name,
      recovered.toFixed(1),
      [...byStatus].map(([k, v]) => `${k}×${v}`).join(' '),
      Math.round(Math.max(0, ...during.map((s) => s.ms))).toString(),
    ]);
  };

  await sleep(3000);
  await phase(
    `SIGSTOP ${PAUSE_SECONDS} s`,
    async () => {
      redis.pause();
      await sleep(PAUSE_SECONDS * 1000);
    },
    async () => redis.resume(),
  );
  await phase(
    'kill, restart empty after 5 s',
    async () => {
      await redis.kill();
      await sleep(5000);
    },
    () => redis.restart(),
  );
  await phase(
    'FLUSHALL (then 3 s of traffic)',
    async () => {
      await redis.command((r) => r.flushall());
      await sleep(3000);
    },
    async () => {},
  );
  stopped = true;
  await Promise.all(workers);

  const calls = sandbox.calls();
  console.log(
    '| fault | s until both replicas ready after Redis answered | IdP answers during the fault | slowest (ms) |',
  );
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `Kit: ${calls.total} calls, ${calls.rateLimited} × 429, at most ${maxInWindow(
      calls.log.map((c) => c.at),
      2000,
    )} in any 2 s (window allows 20)`,
  );
  await Promise.all(replicas.map((r) => r.stop()));
  await sandbox.close();
  await redis.stop();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
