import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../src/config';
import { Service } from '../src/service';

// Reconciliation at scale (issue #5): an IGA tool walks every user and every group with members. The Kit
// sandbox runs in its own process (so the RSS measured here is the SCIM server's alone) at Kit's real window
// of 120 calls per rolling 60 s, seeded with 100,000 subscribers spread over 50 tags.

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100000);
const TAGS = Number(process.env.BENCH_TAGS ?? 50);
const USERS_PAGE = 100;
const GROUPS_PAGE = 10;
const TOKEN = 'bench-token-0123456789';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

async function startSandboxProcess(apiKey: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '../src/sandbox/main.ts')], {
    env: { ...process.env, KIT_SANDBOX_PORT: String(port), KIT_SANDBOX_API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await request(url).get('/__sandbox/state').set('X-Sandbox-Admin', apiKey);
      return { url, child };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('sandbox did not start');
}

async function sandboxCalls(url: string, apiKey: string) {
  const res = await request(url).get('/__sandbox/calls').set('X-Sandbox-Admin', apiKey);
  return res.body as { total: number; rateLimited: number; byEndpoint: Record<string, number> };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

class RssSampler {
  peak = process.memoryUsage().rss;
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }, 50);
  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.peak, process.memoryUsage().rss);
  }
}

export async function run(): Promise<void> {
  const apiKey = `kit_bench_${randomBytes(8).toString('hex')}`;
  const sandbox = await startSandboxProcess(apiKey);
  const service = { current: undefined as Service | undefined };
  try {
    const seeded = await request(sandbox.url)
      .post('/__sandbox/seed')
      .set('X-Sandbox-Admin', apiKey)
      .send({ subscribers: SUBSCRIBERS, tags: TAGS });
    console.log(`seeded ${seeded.body.subscribers.count} subscribers in ${TAGS} tags (${seeded.body.durationMs} ms)`);

    const config = loadConfig({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: apiKey,
      SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
      KIT_MAX_WAIT_MS: '120000',
    });
    const rss = new RssSampler();
    const started = Date.now();
    service.current = new Service({ config, logger: pino({ level: 'silent' }) });
    await service.current.bootstrap();
    const scim = service.current.scim();
    await scim.membership.membershipIndex({ priority: 'background' });
    const warm = await sandboxCalls(sandbox.url, apiKey);
    console.log(
      `start-up: ${warm.total} Kit calls (account, fields, tags, membership index over ${TAGS} tags) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    const app = service.current.app;
    const walk = async (label: string, pathFor: (start: number) => string, minimum: number) => {
      const before = await sandboxCalls(sandbox.url, apiKey);
      const latencies: number[] = [];
      const t0 = Date.now();
      let seen = 0;
      let total = 0;
      for (let start = 1; ;) {
        const r0 = performance.now();
        const res = await request(app).get(pathFor(start)).set('Authorization', `Bearer ${TOKEN}`);
        latencies.push(performance.now() - r0);
        if (res.status !== 200) throw new Error(`${label}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        total = res.body.totalResults;
        seen += res.body.Resources.length;
        start += res.body.Resources.length;
        if (res.body.Resources.length === 0 || start > total) break;
      }
      const wall = (Date.now() - t0) / 1000;
      const after = await sandboxCalls(sandbox.url, apiKey);
      const calls = after.total - before.total;
      latencies.sort((a, b) => a - b);
      console.log(`\n${label}`);
      console.log(`  resources seen / totalResults: ${seen} / ${total}`);
      console.log(
        `  Kit calls: ${calls} (minimum ${minimum}, ratio ${(calls / minimum).toFixed(3)}), 429s: ${after.rateLimited - before.rateLimited}`,
      );
      console.log(`  wall time: ${wall.toFixed(1)} s over ${latencies.length} SCIM requests`);
      console.log(
        `  latency ms: p50 ${percentile(latencies, 50).toFixed(1)}  p95 ${percentile(latencies, 95).toFixed(1)}  p99 ${percentile(latencies, 99).toFixed(1)}  max ${latencies[latencies.length - 1].toFixed(1)}`,
      );
      return { calls, wall, seen, total };
    };

    const users = await walk(
      `GET /Users walk, count=${USERS_PAGE} (groups included, from the warm membership index)`,
      (s) => `/scim/v2/Users?startIndex=${s}&count=${USERS_PAGE}`,
      Math.ceil(SUBSCRIBERS / 1000),
    );
    const groups = await walk(
      `GET /Groups walk with members, count=${GROUPS_PAGE}`,
      (s) => `/scim/v2/Groups?startIndex=${s}&count=${GROUPS_PAGE}`,
      1 + TAGS * Math.ceil(SUBSCRIBERS / TAGS / 1000),
    );
    const peak = rss.stop();
    console.log(`\npeak RSS of the SCIM server process: ${(peak / 1024 / 1024).toFixed(0)} MB (target ≤ 300 MB)`);
    console.log(
      `targets: Users walk ≤ ${Math.ceil(SUBSCRIBERS / 1000) + 2} Kit calls → ${users.calls} ${users.calls <= Math.ceil(SUBSCRIBERS / 1000) + 2 ? 'MET' : 'MISSED'}; ≤ 90 s → ${users.wall.toFixed(1)} s ${users.wall <= 90 ? 'MET' : 'MISSED'}; RSS ≤ 300 MB → ${peak <= 300 * 1024 * 1024 ? 'MET' : 'MISSED'}`,
    );
    if (users.seen !== users.total || groups.seen !== groups.total)
      throw new Error('a walk did not see every resource once');
  } finally {
    await service.current?.close();
    sandbox.child.kill('SIGTERM');
  }
}
