import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import request from 'supertest';
import type { Subscriber } from '../src/kit/types';
import { SubscriberFieldMap } from '../src/scim/fieldMap';
import { resourceRenderer } from '../src/scim/render';
import { subscriberToUser } from '../src/scim/userMapping';
import { userSchemaFor } from '../src/scim/userSchema';
import { scimmyRenderer } from '../test/support/scimmyRenderer';
import { freePort, KIT_SANDBOX_MAIN } from '../test/support/serverProcess';

type RendererKind = 'compiled' | 'scimmy';

// The facade's own cost per request: what the SCIM server spends when Kit is not the bottleneck.
// The Kit sandbox and the SCIM server run as separate processes, the server with the V8 flags `npm start` uses
// and its default logging, against the sandbox. autocannon (in this process) drives the load; it shares the
// machine's cores with the server, so absolute figures move with the machine's load.
//
// - cached list pages: the first Kit page is fetched once, then every request is served from the page cache;
// - GET /Users/{id}, `userName eq` and the Entra-like mix each need one Kit call per request (Kit is the source of
//   truth for a single user): they run against a sandbox whose window is 1 s instead of 60 s (120 calls per
//   second), so they show the facade's cost around one Kit call rather than Kit's 2 calls per second;
// - the 100k walk: an IGA walk of every user, count=100, one request at a time: server CPU seconds, event-loop
//   delay p99 (prom-client's nodejs_eventloop_lag_p99_seconds, reset by each scrape of /metrics), latency, and
//   the server's peak RSS (VmHWM);
// - in-process: 1,000 pages of 100 users rendered and serialised by the compiled renderer and by scimmy's (the
//   tests' oracle, test/support/scimmyRenderer.ts), mapping included: the CPU seconds a 100k walk spends rendering.

const SUBSCRIBERS = Number(process.env.BENCH_FACADE_SUBSCRIBERS ?? 100000);
const TAGS = Number(process.env.BENCH_FACADE_TAGS ?? 50);
const SECONDS = Number(process.env.BENCH_FACADE_SECONDS ?? 8);
const CONNECTIONS = 10;
const TOKEN = 'bench-token-0123456789abcdef0123456789';
const ROOT = path.join(__dirname, '..');
const KIT_WINDOW_MS = 1000;
const CLOCK_TICKS = 100;

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start`);
}

/** The V8 flags `npm start` runs the server with, so the benchmark measures the production process. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return (pkg.scripts.start as string).match(/--max-old-space-size=\d+/g) ?? [];
}

interface Proc {
  url: string;
  child: ChildProcess;
}

async function startSandbox(apiKey: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', KIT_SANDBOX_MAIN], {
    env: {
      ...process.env,
      KIT_SANDBOX_PORT: String(port),
      KIT_SANDBOX_API_KEY: apiKey,
      KIT_SANDBOX_RATE_MAX: '120',
      KIT_SANDBOX_RATE_WINDOW_MS: String(KIT_WINDOW_MS),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(url).get('/__sandbox/state').set('X-Sandbox-Admin', apiKey)).ok, 'sandbox');
  return { url, child };
}

async function startServer(sandbox: Proc, apiKey: string): Promise<Proc> {
  const port = await freePort();
  // BENCH_FACADE_PROFILE=<dir>: the server writes a V8 CPU profile there when it exits (open it in DevTools).
  const profile = process.env.BENCH_FACADE_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_FACADE_PROFILE}`]
    : [];
  const child = spawn(
    process.execPath,
    [...startFlags(), ...profile, '--require', 'tsx/cjs', path.join(ROOT, 'src/app/main.ts')],
    {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        KIT_API_URL: sandbox.url,
        KIT_API_KEY: apiKey,
        KIT_RATE_WINDOW_MS: String(KIT_WINDOW_MS),
        SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
      },
      // Logging stays as `npm start` has it (info, one line per request); the lines go nowhere.
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(url).get('/readyz')).ok, 'SCIM server');
  return { url, child };
}

async function sandboxCalls(sandbox: Proc, apiKey: string): Promise<number> {
  return (await request(sandbox.url).get('/__sandbox/calls').set('X-Sandbox-Admin', apiKey)).body.total as number;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resets the kernel's peak-RSS mark of a process (VmHWM), so the next reading covers what follows only. */
function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024;
}

async function metric(server: Proc, name: string): Promise<number> {
  const res = await request(server.url).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(res.text);
  return m ? Number(m[1]) : Number.NaN;
}

/** The server's event-loop delay p99 since the previous scrape (prom-client resets it on each collection). */
async function eventLoopP99Ms(server: Proc): Promise<number> {
  return (await metric(server, 'nodejs_eventloop_lag_p99_seconds')) * 1000;
}

interface Figures {
  rps: number;
  /** Requests answered in the run (server CPU per request = cpu / served: the figure load on the machine moves least). */
  served: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  loopP99: number;
  cpu: number;
}

/** autocannon options; `path` (the URL's path on the server) is ours, autocannon takes a whole URL. */
type LoadOptions = Partial<autocannon.Options> & { path?: string };

async function load(server: Proc, { path: urlPath, ...opts }: LoadOptions): Promise<Figures> {
  await eventLoopP99Ms(server);
  const cpu0 = cpuSeconds(server.child.pid!);
  const result = await autocannon({
    url: `${server.url}${urlPath ?? ''}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { Authorization: `Bearer ${TOKEN}` },
    ...opts,
  });
  const cpu = cpuSeconds(server.child.pid!) - cpu0;
  return {
    rps: result.requests.total / result.duration,
    served: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts + result.non2xx,
    loopP99: await eventLoopP99Ms(server),
    cpu,
  };
}

async function scimGet(server: Proc, p: string): Promise<any> {
  const res = await request(server.url).get(p).set('Authorization', `Bearer ${TOKEN}`);
  if (res.status !== 200) throw new Error(`GET ${p}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return res.body;
}

type Scenario = { name: string; figures: Figures };

async function measureServer(sandbox: Proc, apiKey: string): Promise<Scenario[]> {
  const server = await startServer(sandbox, apiKey);
  try {
    // The membership index warms in the background after start-up: wait until the Kit calls settle.
    let calls = await sandboxCalls(sandbox, apiKey);
    for (let quiet = 0; quiet < 3;) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await sandboxCalls(sandbox, apiKey);
      quiet = now === calls ? quiet + 1 : 0;
      calls = now;
    }
    const first = await scimGet(server, '/scim/v2/Users?startIndex=1&count=100');
    await scimGet(server, '/scim/v2/Users?startIndex=1&count=1000');
    const ids: string[] = first.Resources.map((u: any) => u.id);
    const emails: string[] = first.Resources.map((u: any) => u.userName);
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const out: Scenario[] = [];
    // BENCH_FACADE_ONLY=<text>: only the scenarios whose name contains it (when profiling one, say).
    const only = process.env.BENCH_FACADE_ONLY;
    const run = async (name: string, opts: LoadOptions) => {
      if (only && !name.includes(only)) return;
      const figures = await load(server, opts);
      out.push({ name, figures });
      console.log(
        `  ${name}: ${figures.rps.toFixed(0)} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms, max ${figures.max} ms, loop p99 ${figures.loopP99.toFixed(1)} ms, server CPU ${figures.cpu.toFixed(2)} s, errors ${figures.errors}`,
      );
    };
    const page100 = '/scim/v2/Users?startIndex=1&count=100';
    await run('cached page, count=100, flat out', { path: page100 });
    await run('cached page, count=100, 200 req/s offered', { path: page100, overallRate: 200 });
    await run('cached page, count=1000, flat out', { path: '/scim/v2/Users?startIndex=1&count=1000' });
    await run('GET /Users/{id} (1 Kit call each)', {
      requests: [{ setupRequest: (req) => ({ ...req, path: `/scim/v2/Users/${pick(ids)}` }) }],
    });
    await run('userName eq lookup (1 Kit call each)', {
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${pick(emails)}"`)}`,
          }),
        },
      ],
    });
    // Entra's provisioning cycle reads: a lookup by userName per user, reads by id, the odd list page and group.
    await run('Entra-like mix (reads)', {
      requests: [
        {
          setupRequest: (req) => {
            const r = Math.random();
            const p =
              r < 0.6
                ? `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${pick(emails)}"`)}`
                : r < 0.85
                  ? `/scim/v2/Users/${pick(ids)}?excludedAttributes=groups`
                  : r < 0.95
                    ? page100
                    : `/scim/v2/Groups?excludedAttributes=members&count=10`;
            return { ...req, path: p };
          },
        },
      ],
    });
    // The walk: one request at a time, as an IGA tool walks; it fetches the Kit pages it needs on the way.
    const pages = Math.ceil(first.totalResults / 100);
    const walk: autocannon.Request[] = Array.from({ length: pages }, (_, i) => ({
      path: `/scim/v2/Users?startIndex=${i * 100 + 1}&count=100`,
    }));
    resetPeakRss(server.child.pid!);
    await run(`walk of ${first.totalResults} users, count=100, one at a time`, {
      connections: 1,
      // amount ends the run; the duration only has to outlast it.
      duration: 3600,
      amount: pages,
      requests: walk,
    });
    const heap = (await metric(server, 'nodejs_heap_size_used_bytes')) / 1048576;
    console.log(`  V8 heap used after the walk: ${heap.toFixed(0)} MB`);
    out.push({
      name: 'peak RSS during the walk (VmHWM), MB',
      figures: { rps: peakRssMb(server.child.pid!), served: 0, p50: 0, p99: 0, max: 0, errors: 0, loopP99: 0, cpu: 0 },
    });
    return out;
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
}

/** CPU seconds to map, render and serialise 1,000 pages of 100 users, as a cached list answer does. */
function renderCpuSeconds(kind: RendererKind, subscribers: Subscriber[], fields: SubscriberFieldMap): number {
  const schema = userSchemaFor(fields.mapping);
  const renderer = kind === 'scimmy' ? scimmyRenderer(schema) : resourceRenderer(schema);
  const groups = [{ value: '3', display: 'Engineering' }];
  const start = process.cpuUsage();
  for (let page = 0; page < 1000; page++) {
    const render = renderer.prepare();
    const slice = subscribers.slice((page % 10) * 100, (page % 10) * 100 + 100);
    const resources = slice.map((s) => render(subscriberToUser(s, fields, groups), 'http://127.0.0.1/scim/v2'));
    JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], Resources: resources });
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function syntheticSubscribers(fields: SubscriberFieldMap): Subscriber[] {
  return Array.from({ length: 1000 }, (_, i) => ({
    id: 1000 + i,
    first_name: `First${i}`,
    email_address: `user${i}@example.com`,
    state: i % 7 === 0 ? 'cancelled' : 'active',
    created_at: '2024-01-02T03:04:05Z',
    fields: {
      [fields.key('scim_family_name')]: `Family${i}`,
      [fields.key('scim_display_name')]: `First${i} Family${i}`,
      [fields.key('scim_external_id')]: `ext-${i}`,
      [fields.key('scim_department')]: 'Sales',
      [fields.key('scim_last_modified')]: '2024-06-01T00:00:00.000Z',
    },
  }));
}

export async function run(): Promise<void> {
  // In-process rendering first, on a quiet process: best of three per renderer.
  const fields = new SubscriberFieldMap(new Map(SubscriberFieldMap.labels().map((l) => [l, `f_${l}`])));
  const subs = syntheticSubscribers(fields);
  const renderCpu: Record<RendererKind, number> = { scimmy: Infinity, compiled: Infinity };
  for (let round = 0; round < 3; round++) {
    for (const kind of ['scimmy', 'compiled'] as const)
      renderCpu[kind] = Math.min(renderCpu[kind], renderCpuSeconds(kind, subs, fields));
  }
  console.log(
    `in-process render of 1,000 pages × 100 users: scimmy ${renderCpu.scimmy.toFixed(2)} s CPU, compiled ${renderCpu.compiled.toFixed(2)} s CPU (${(renderCpu.scimmy / renderCpu.compiled).toFixed(1)}×)`,
  );

  const apiKey = `kit_bench_${randomBytes(8).toString('hex')}`;
  const sandbox = await startSandbox(apiKey);
  try {
    const seeded = await request(sandbox.url)
      .post('/__sandbox/seed')
      .set('X-Sandbox-Admin', apiKey)
      .send({ subscribers: SUBSCRIBERS, tags: TAGS });
    console.log(`seeded ${seeded.body.subscribers.count} subscribers in ${TAGS} tags (${seeded.body.durationMs} ms)`);
    console.log(`machine load average (1 min) before the server: ${loadavg()[0].toFixed(1)} on this machine's cores`);
    await measureServer(sandbox, apiKey);
    console.log(`machine load average (1 min) after: ${loadavg()[0].toFixed(1)}`);
  } finally {
    sandbox.child.kill('SIGTERM');
  }
}
