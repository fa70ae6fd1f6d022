import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import request from 'supertest';
import { type Backend, BACKENDS, type Harness, oktaUser, patch, startHarness } from '../test/support/harness';
import { freePort, KIT_SANDBOX_MAIN } from '../test/support/serverProcess';

// Kit v3 next to Kit v4: what each SCIM operation costs in Kit calls on either backend (measured by
// the sandbox's own call log, in process, on a fast window), then a whole-account /Users walk of
// BENCH_V3_USERS (20,000) users at Kit's real window (120 calls per rolling 60 s), sandbox and server in their
// own processes, as `npm start` runs them.

const USERS = Number(process.env.BENCH_V3_USERS ?? 20000);
const TOKEN = 'bench-token-0123456789abcdef0123456789';
const ROOT = path.join(__dirname, '..');
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

async function quiet(h: Harness): Promise<void> {
  // Start-up warms the membership index in the background: measure only once Kit calls have stopped.
  let last = -1;
  for (let still = 0; still < 3;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = h.sandbox.calls().total;
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

type Row = { operation: string; counts: Partial<Record<Backend, string>> };

async function perOperation(backend: Backend, rows: Row[]): Promise<void> {
  const h = await startHarness({ backend });
  try {
    await quiet(h);
    const row = (operation: string) => {
      let r = rows.find((x) => x.operation === operation);
      if (!r) rows.push((r = { operation, counts: {} }));
      return r;
    };
    const measure = async (operation: string, fn: () => Promise<{ status: number }>) => {
      const { result, total } = await h.kitCalls(fn);
      row(operation).counts[backend] = `${total} (${result.status})`;
      return result as any;
    };
    const stamp = Date.now();
    const email = `bench.${stamp}@example.com`;
    const created = await measure('POST /Users (new email)', () => h.post('/scim/v2/Users', oktaUser(email)));
    const id = created.body.id;
    await measure('POST /Users (email of an active user: 409)', () => h.post('/scim/v2/Users', oktaUser(email)));
    await measure('GET /Users?filter=userName eq (existing)', () =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`),
    );
    await measure('GET /Users?filter=userName eq (no such user)', () =>
      h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "nobody.${stamp}@example.com"`)}`),
    );
    await measure('GET /Users/{id}?excludedAttributes=groups', () =>
      h.get(`/scim/v2/Users/${id}?excludedAttributes=groups`),
    );
    await measure('PATCH /Users/{id} name.givenName', () =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'name.givenName', value: 'Grace' })),
    );
    await measure('PATCH /Users/{id} active:false (deactivate)', () =>
      h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })),
    );
    await measure('POST /Users (email of a deactivated user: 409)', () => h.post('/scim/v2/Users', oktaUser(email)));
    await measure('DELETE /Users/{id} (deactivated, no groups)', () => h.del(`/scim/v2/Users/${id}`));
    const live = await h.post('/scim/v2/Users', oktaUser(`bench.live.${stamp}@example.com`));
    await measure('DELETE /Users/{id} (active, no groups)', () => h.del(`/scim/v2/Users/${live.body.id}`));

    const ids = h.sandbox.store.seedSubscribers(120, { emailPrefix: `bench-${backend}-${stamp}-` }).ids;
    const g = await measure('POST /Groups with 100 members', () =>
      h.post('/scim/v2/Groups', {
        schemas: [GROUP],
        displayName: `Bench ${stamp}`,
        members: ids.slice(0, 100).map((m) => ({ value: String(m) })),
      }),
    );
    const gid = g.body.id;
    await measure('PATCH /Groups add 10 members', () =>
      h.patch(
        `/scim/v2/Groups/${gid}`,
        patch({ op: 'add', path: 'members', value: ids.slice(100, 110).map((m) => ({ value: String(m) })) }),
      ),
    );
    await measure('PATCH /Groups remove 10 named members', () =>
      h.patch(
        `/scim/v2/Groups/${gid}`,
        patch(...ids.slice(0, 10).map((m) => ({ op: 'remove', path: `members[value eq "${m}"]` }))),
      ),
    );
    await measure('GET /Groups/{id} with 100 members', () => h.get(`/scim/v2/Groups/${gid}`));
    await measure('PATCH /Groups rename', () =>
      h.patch(`/scim/v2/Groups/${gid}`, patch({ op: 'replace', path: 'displayName', value: `Renamed ${stamp}` })),
    );
    await measure('DELETE /Groups/{id} with 100 members', () => h.del(`/scim/v2/Groups/${gid}`));

    h.sandbox.store.seedSubscribers(1000, { emailPrefix: `walk-${backend}-${stamp}-` });
    const { total: walkCalls } = await h.kitCalls(async () => {
      const first = await h.get('/scim/v2/Users?startIndex=1&count=100&excludedAttributes=groups');
      for (let s = 101; s <= first.body.totalResults; s += 100)
        await h.get(`/scim/v2/Users?startIndex=${s}&count=100&excludedAttributes=groups`);
    });
    const n = h.sandbox.store.counts().subscribers;
    row(`GET /Users walk, count=100, whole account (${n} subscribers)`).counts[backend] = String(walkCalls);
  } finally {
    await h.close();
  }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start`);
}

function spawnTs(file: string, env: Record<string, string>, flags: string[] = []): ChildProcess {
  return spawn(process.execPath, [...flags, '--require', 'tsx/cjs', path.resolve(ROOT, file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function walkAtKitsWindow(backend: Backend): Promise<void> {
  const apiKey = `kit_bench_${randomBytes(8).toString('hex')}`;
  const apiSecret = `kit_secret_${randomBytes(12).toString('hex')}`;
  const sandboxPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const sandbox = spawnTs(KIT_SANDBOX_MAIN, {
    KIT_SANDBOX_PORT: String(sandboxPort),
    KIT_SANDBOX_API_KEY: apiKey,
    KIT_SANDBOX_API_SECRET: apiSecret,
  });
  let server: ChildProcess | undefined;
  const calls = async () =>
    (await request(sandboxUrl).get('/__sandbox/calls').set('X-Sandbox-Admin', apiKey)).body as {
      total: number;
      rateLimited: number;
    };
  try {
    await waitFor(
      async () => (await request(sandboxUrl).get('/__sandbox/state').set('X-Sandbox-Admin', apiKey)).ok,
      'sandbox',
    );
    await request(sandboxUrl).post('/__sandbox/seed').set('X-Sandbox-Admin', apiKey).send({ subscribers: USERS });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const credentials: Record<string, string> =
      backend === 'v3' ? { KIT_API_VERSION: 'v3', KIT_API_SECRET: apiSecret } : { KIT_API_KEY: apiKey };
    server = spawnTs(
      'src/app/main.ts',
      {
        ...credentials,
        KIT_API_URL: sandboxUrl,
        SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
        AUDIT_LOG: 'off',
        LOG_LEVEL: 'warn',
        KIT_MAX_WAIT_MS: '120000',
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      ['--max-old-space-size=192'],
    );
    await waitFor(async () => (await request(url).get('/readyz')).ok, 'SCIM server');
    const before = await calls();
    const t0 = Date.now();
    let seen = 0;
    let total = 0;
    for (let start = 1; ;) {
      const res = await request(url)
        .get(`/scim/v2/Users?startIndex=${start}&count=100&excludedAttributes=groups`)
        .set('Authorization', `Bearer ${TOKEN}`);
      if (res.status !== 200) throw new Error(`walk: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      total = res.body.totalResults;
      seen += res.body.Resources.length;
      start += res.body.Resources.length;
      if (res.body.Resources.length === 0 || start > total) break;
    }
    const wall = (Date.now() - t0) / 1000;
    const after = await calls();
    const pageSize = backend === 'v3' ? 50 : 1000;
    console.log(
      `Kit ${backend}: /Users walk of ${USERS} users, count=100, at 120 calls / 60 s: ${after.total - before.total} Kit calls ` +
        `(ceil(N/${pageSize}) = ${Math.ceil(USERS / pageSize)}), ${wall.toFixed(1)} s, ${after.rateLimited - before.rateLimited} Kit 429s, ` +
        `${seen}/${total} users seen`,
    );
  } finally {
    server?.kill('SIGTERM');
    sandbox.kill('SIGTERM');
  }
}

export async function run(): Promise<void> {
  const rows: Row[] = [];
  for (const backend of BACKENDS) await perOperation(backend, rows);
  console.log('\nKit calls per SCIM operation (HTTP status in brackets), measured by the sandbox:\n');
  console.log('| SCIM operation | Kit v4 | Kit v3 |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.operation} | ${r.counts.v4 ?? '–'} | ${r.counts.v3 ?? '–'} |`);
  console.log('');
  for (const backend of BACKENDS) await walkAtKitsWindow(backend);
}
