import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { freePort, KIT_SANDBOX_MAIN } from '../test/support/serverProcess';

// Reconciliation at scale: an IGA tool walks every user and every group with members. The Kit
// sandbox and the SCIM server each run in their own process, the server with the V8 flags `npm start` uses,
// at Kit's real window of 120 calls per rolling 60 s, with 100,000 subscribers spread over 50 tags. Peak RSS
// is the kernel's high-water mark for the server process (VmHWM).

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100000);
const TAGS = Number(process.env.BENCH_TAGS ?? 50);
const USERS_PAGE = 100;
const GROUPS_PAGE = 10;
const TOKEN = 'bench-token-0123456789abcdef0123456789';
const ROOT = path.join(__dirname, '..');

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start`);
}

async function startSandboxProcess(apiKey: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', KIT_SANDBOX_MAIN], {
    env: { ...process.env, KIT_SANDBOX_PORT: String(port), KIT_SANDBOX_API_KEY: apiKey },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(url).get('/__sandbox/state').set('X-Sandbox-Admin', apiKey)).ok, 'sandbox');
  return { url, child };
}

/** The V8 flags `npm start` runs the server with, so the benchmark measures the production process. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return (pkg.scripts.start as string).match(/--max-old-space-size=\d+/g) ?? [];
}

async function startServerProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...startFlags(), '--require', 'tsx/cjs', path.join(ROOT, 'src/app/main.ts')], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(url).get('/readyz')).ok, 'SCIM server');
  return { url, child };
}

/** The process's peak resident set as the kernel counts it (Linux). */
function peakRssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

async function sandboxCalls(url: string, apiKey: string) {
  const res = await request(url).get('/__sandbox/calls').set('X-Sandbox-Admin', apiKey);
  return res.body as { total: number; rateLimited: number; byEndpoint: Record<string, number> };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function run(): Promise<void> {
  const apiKey = `kit_bench_${randomBytes(8).toString('hex')}`;
  const sandbox = await startSandboxProcess(apiKey);
  let server: { url: string; child: ChildProcess } | undefined;
  try {
    const seeded = await request(sandbox.url)
      .post('/__sandbox/seed')
      .set('X-Sandbox-Admin', apiKey)
      .send({ subscribers: SUBSCRIBERS, tags: TAGS });
    console.log(`seeded ${seeded.body.subscribers.count} subscribers in ${TAGS} tags (${seeded.body.durationMs} ms)`);

    const started = Date.now();
    server = await startServerProcess({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: apiKey,
      SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'warn',
      KIT_MAX_WAIT_MS: '120000',
    });
    // The membership index warms in the background after start-up: wait until the Kit calls settle.
    let warm = await sandboxCalls(sandbox.url, apiKey);
    for (let quiet = 0; quiet < 3;) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await sandboxCalls(sandbox.url, apiKey);
      quiet = now.total === warm.total ? quiet + 1 : 0;
      warm = now;
    }
    console.log(
      `start-up: ${warm.total} Kit calls (account, fields, tags, membership index over ${TAGS} tags) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    const url = server.url;
    const walk = async (label: string, pathFor: (start: number) => string, minimum: number) => {
      const before = await sandboxCalls(sandbox.url, apiKey);
      const latencies: number[] = [];
      const t0 = Date.now();
      let seen = 0;
      let total = 0;
      for (let start = 1; ;) {
        const r0 = performance.now();
        const res = await request(url).get(pathFor(start)).set('Authorization', `Bearer ${TOKEN}`);
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

    const usersMinimum = Math.ceil(SUBSCRIBERS / 1000);
    const users = await walk(
      `GET /Users walk, count=${USERS_PAGE} (groups included, from the warm membership index)`,
      (s) => `/scim/v2/Users?startIndex=${s}&count=${USERS_PAGE}`,
      usersMinimum,
    );
    const groups = await walk(
      `GET /Groups walk with members, count=${GROUPS_PAGE}`,
      (s) => `/scim/v2/Groups?startIndex=${s}&count=${GROUPS_PAGE}`,
      1 + TAGS * Math.ceil(SUBSCRIBERS / TAGS / 1000),
    );
    const peak = peakRssBytes(server.child.pid!);
    const flags = startFlags().join(' ') || 'no V8 flags';
    console.log(`\npeak RSS of the SCIM server process (VmHWM, ${flags}): ${(peak / 1048576).toFixed(0)} MB`);
    const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED');
    console.log(
      `targets: Users walk ≤ ${usersMinimum + 2} Kit calls → ${users.calls} ${verdict(users.calls <= usersMinimum + 2)}; ` +
        `≤ 90 s → ${users.wall.toFixed(1)} s ${verdict(users.wall <= 90)}; ` +
        `peak RSS ≤ 300 MB → ${(peak / 1048576).toFixed(0)} MB ${verdict(peak <= 300 * 1048576)}`,
    );
    if (users.seen !== users.total || groups.seen !== groups.total)
      throw new Error('a walk did not see every resource');
  } finally {
    server?.child.kill('SIGTERM');
    sandbox.child.kill('SIGTERM');
  }
}
