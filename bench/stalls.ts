import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../src/config/environment';
import { startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../src/app/service';

// Whether one request can hold the event loop: the hostile catalogue (docs/provisioning.md "Hostile input") against a
// server whose lookup mirror holds BENCH_STALL_SUBSCRIBERS (100,000) subscribers, each case with a /healthz
// probe sent every PROBE_EVERY_MS (10 ms) while it runs. Per case: the event loop's delay while it ran
// (perf_hooks.monitorEventLoopDelay, p99 and max) and the longest a probe waited for its answer. Then an IGA
// tool's full pull of every user, 1,000 a page, with the mirror warm: latency per page (p50, p99, max).
// Target: p99 delay <= 20 ms and no probe waiting over 100 ms on an otherwise idle machine. Each case also
// shows its longest garbage-collector pause: a delay no longer than it is the collector's, not a loop's. The sandbox runs
// in this process too, so its own work counts against the figures (it is idle while the cases run: the
// mirror answers them).

const SUBSCRIBERS = Number(process.env.BENCH_STALL_SUBSCRIBERS ?? 100_000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 2000);
const PROBE_EVERY_MS = 10;
const TOKEN = 'bench-stalls-token-0123456789abcdef012345';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** `pairs` ANDed OR-pairs; 8 of them: 363 characters, 256 terms once multiplied out, within the filter limits. */
const pairsFilter = (pairs: number) =>
  Array.from({ length: pairs }, (_, i) => `(userName eq "q${i}" or displayName eq "b${i}")`).join(' and ');
const HOSTILE_FILTER = pairsFilter(8);

interface CaseFigures {
  status: string;
  ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  probes: number;
  probeMaxMs: number;
  /** Probes that got no answer (a connection reset): counted, with their wait. */
  probeFailures: number;
  /** The longest garbage-collector pause while the case ran. */
  gcMaxMs: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function run(): Promise<void> {
  const sandbox = await startKitSandbox({ rateLimit: { max: 120, windowMs: WINDOW_MS } });
  const seeded = sandbox.store.seedSubscribers(SUBSCRIBERS, { emailPrefix: 'bench-stall-' });
  const config = loadConfig({
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
    KIT_RATE_WINDOW_MS: String(WINDOW_MS),
    KIT_MAX_WAIT_MS: String(Math.max(25_000, WINDOW_MS * 2)),
    MIRROR: 'lookups',
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
  });
  const service = new Service({ config, logger: pino({ level: 'silent' }) });
  await service.bootstrap();
  const server = createServer(service.app);
  const base = await listen(server);
  const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
  const call = (method: string, path: string, body?: string) =>
    fetch(`${base}${path}`, { method, headers, body }).then(async (r) => ({ status: r.status, text: await r.text() }));
  const users = (filter: string, count = 1) =>
    call('GET', `/scim/v2/Users?count=${count}&filter=${encodeURIComponent(filter)}`);

  /** Runs one case with the probe and the delay monitor on. */
  async function measure(work: () => Promise<{ status: number }>): Promise<CaseFigures> {
    const monitor = monitorEventLoopDelay({ resolution: 1 });
    let gcMaxMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, entry.duration);
    });
    gc.observe({ entryTypes: ['gc'] });
    const waits: number[] = [];
    const pending: Array<Promise<void>> = [];
    let probing = true;
    let failures = 0;
    const probe = async () => {
      const sent = performance.now();
      try {
        const res = await fetch(`${base}/healthz`);
        await res.arrayBuffer();
      } catch {
        failures++;
      }
      waits.push(performance.now() - sent);
    };
    const timer = setInterval(() => {
      if (probing) pending.push(probe());
    }, PROBE_EVERY_MS);
    monitor.enable();
    const started = performance.now();
    let status: string;
    try {
      status = String((await work()).status);
    } finally {
      probing = false;
      clearInterval(timer);
    }
    const ms = performance.now() - started;
    monitor.disable();
    // Entries not yet handed to the callback (it runs on a later turn).
    for (const entry of gc.takeRecords()) gcMaxMs = Math.max(gcMaxMs, entry.duration);
    gc.disconnect();
    await Promise.all(pending);
    return {
      status,
      ms,
      delayP99Ms: monitor.percentile(99) / 1e6,
      delayMaxMs: monitor.max / 1e6,
      probes: waits.length,
      probeMaxMs: waits.length ? Math.max(...waits) : 0,
      probeFailures: failures,
      gcMaxMs,
    };
  }

  const print = (label: string, f: CaseFigures) =>
    console.log(
      `${label.padEnd(46)} ${f.status.padStart(3)}  ${f.ms.toFixed(0).padStart(6)} ms  ` +
        `loop delay p99 ${f.delayP99Ms.toFixed(1).padStart(6)} ms  max ${f.delayMaxMs.toFixed(1).padStart(7)} ms  ` +
        `probes ${String(f.probes).padStart(4)}  worst probe ${f.probeMaxMs.toFixed(1).padStart(7)} ms  ` +
        `longest GC ${f.gcMaxMs.toFixed(1).padStart(5)} ms` +
        (f.probeFailures ? `  (${f.probeFailures} probes failed)` : ''),
    );

  try {
    console.log(
      `${SUBSCRIBERS.toLocaleString('en')} subscribers in the lookup mirror (MIRROR=lookups), /healthz probe ` +
        `every ${PROBE_EVERY_MS} ms; target p99 delay <= 20 ms, worst probe <= 100 ms`,
    );
    // Warm the mirror (one walk of the account) outside the measured cases.
    const warm = await users('externalId eq "bench-warm"');
    if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.text}`);

    print(`filter, 256 terms (${HOSTILE_FILTER.length} chars), count=1`, await measure(() => users(HOSTILE_FILTER)));
    print('filter, 64 terms, count=1', await measure(() => users(pairsFilter(6))));
    print('filter, 1 term (displayName eq), count=1', await measure(() => users('displayName eq "nobody"')));
    print(
      'filter, 1 term, 8,000-character literal',
      await measure(() => users(`displayName co "${'x'.repeat(8000)}"`)),
    );

    const group = await call(
      'POST',
      '/scim/v2/Groups',
      JSON.stringify({ schemas: [CORE_GROUP], displayName: `bench-stalls-${Date.now()}` }),
    );
    if (group.status !== 201) throw new Error(`group: ${group.status} ${group.text}`);
    const groupId = (JSON.parse(group.text) as { id: string }).id;
    const members = seeded.ids.slice(0, 10_000).map((id) => ({ value: String(id) }));
    // Request bodies are serialised before each case: the client shares this process, and its own
    // JSON.stringify of a megabyte is not the server's delay.
    const patchBody = JSON.stringify({
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: members }],
    });
    const putBody = JSON.stringify({ schemas: [CORE_GROUP], displayName: 'bench-stalls-put', members });
    print(
      'group PATCH adding 10,000 members',
      await measure(() => call('PATCH', `/scim/v2/Groups/${groupId}`, patchBody)),
    );
    print('group PUT with 10,000 members', await measure(() => call('PUT', `/scim/v2/Groups/${groupId}`, putBody)));
    const oneMb = 1024 * 1024 - 200;
    const longStringBody = JSON.stringify({
      schemas: [CORE_USER],
      userName: 'x@example.com',
      displayName: 'd'.repeat(oneMb),
    });
    const manyEmailsBody = JSON.stringify({
      schemas: [CORE_USER],
      userName: 'y@example.com',
      emails: Array.from({ length: 40_000 }, (_, i) => ({ value: `e${i}@x.io` })),
    });
    print(
      '1 MB body (POST /Users, one long string)',
      await measure(() => call('POST', '/scim/v2/Users', longStringBody)),
    );
    print(
      '1 MB body (POST /Users, 40,000 emails)',
      await measure(() => call('POST', '/scim/v2/Users', manyEmailsBody)),
    );
    print(
      'very long email (100,000 characters)',
      await measure(() =>
        call(
          'POST',
          '/scim/v2/Users',
          JSON.stringify({ schemas: [CORE_USER], userName: `${'a'.repeat(100_000)}@example.com` }),
        ),
      ),
    );
    print(
      'very long userName filter (8,000 characters)',
      await measure(() => users(`userName eq "${'a'.repeat(7990)}@x.io"`)),
    );

    // An IGA tool's full pull, 1,000 users a page, the mirror warm (its first page included).
    const pageMs: number[] = [];
    const pull = await measure(async () => {
      let total = Number.POSITIVE_INFINITY;
      for (let start = 1; start <= total; start += 1000) {
        const t = performance.now();
        // A filter Kit cannot narrow, so the walk reads the lookup mirror's pages.
        const res = await call(
          'GET',
          `/scim/v2/Users?startIndex=${start}&count=1000&filter=${encodeURIComponent('externalId pr or userName pr')}`,
        );
        pageMs.push(performance.now() - t);
        if (res.status !== 200) return res;
        total = (JSON.parse(res.text) as { totalResults: number }).totalResults;
      }
      return { status: 200 };
    });
    print(`IGA full pull (${pageMs.length} pages of 1,000)`, pull);
    const sorted = [...pageMs].sort((a, b) => a - b);
    console.log(
      `  per page: first ${pageMs[0].toFixed(0)} ms, p50 ${percentile(sorted, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await service.close();
    await sandbox.close();
  }
}
