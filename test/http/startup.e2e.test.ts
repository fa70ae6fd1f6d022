import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { oktaUser } from '../support/harness';
import { expectScimError } from '../support/scim';
import { unique } from '../support/unique';
import { freePort, runServerProcessToExit, type ServerProcess, startServerProcess } from '../support/serverProcess';

const IDP_TOKEN = `okta=${'f0'.repeat(32)}`;

/** The lines a refused start-up printed, with none of a stack trace's `at …` frames. */
function refusalLines(stderr: string): string[] {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
  return lines;
}

/** Signs in to /status with `token` (the form's POST, from the server's own origin); the page's HTML. */
async function statusPage(url: string, token: string): Promise<string> {
  const login = await request(url).post('/status/login').set('Origin', url).type('form').send({ token });
  expect(login.status).toBe(303);
  const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? [])[0].split(';')[0];
  const page = await request(url).get('/status').set('Cookie', cookie);
  expect(page.status).toBe(200);
  return page.text;
}

// `npm start` as a new user meets it: the real entry point (src/app/main.ts) in its own process.
describe('start-up', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('without Kit credentials runs on the built-in sandbox and prints a bearer token that works', async () => {
    server = await startServerProcess({ LOG_LEVEL: 'info' });
    const banner = server.output();
    expect(banner).toMatch(/BUILT-IN KIT SANDBOX \(no Kit credentials are set\)/);
    const token = banner.match(/Bearer token for this run: (\S+)/)?.[1];
    expect(token).toBeDefined();
    // Printed once the port listened: the URL to curl carries the port bound for PORT=0.
    const port = new URL(server.url).port;
    expect(banner).toContain(`Try: curl -H "Authorization: Bearer ${token}" http://localhost:${port}/scim/v2/Users`);
    const users = await request(server.url).get('/scim/v2/Users').set('Authorization', `Bearer ${token}`);
    expect(users.status).toBe(200);
    expect(users.body.totalResults).toBe(0);
    const ready = await request(server.url).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ sandbox: true, tenants: { default: { sandbox: true } } });
    expect((await request(server.url).get('/tenants/default/readyz')).body.sandbox).toBe(true);
    expect(banner).toMatch(/"level":40,[^\n]*"sandbox":true[^\n]*"msg":"SANDBOX: /);
    expect(banner).toMatch(/"sandbox":true[^\n]*"msg":"listening"/);
    expect(await statusPage(server.url, token!)).toMatch(/<p class="sandbox-banner" role="alert">SANDBOX: /);
    // The token is printed once for the operator, never written into a JSON log line.
    const jsonLines = banner.split('\n').filter((l) => l.startsWith('{'));
    expect(jsonLines.length).toBeGreaterThan(0);
    expect(jsonLines.some((l) => l.includes(token!))).toBe(false);
  });

  it('with Kit unreachable still starts, reports not-ready, and answers 503 (never 404) to SCIM calls', async () => {
    const dead = await freePort();
    server = await startServerProcess({
      KIT_API_URL: `http://127.0.0.1:${dead}`,
      KIT_API_KEY: 'kit-key-that-goes-nowhere',
      SCIM_BEARER_TOKENS: 'okta=startup-token-0123456789abcdef0123456789',
      KIT_TIMEOUT_MS: '500',
      LOG_LEVEL: 'info',
    });
    const ready = await request(server.url).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ sandbox: false, tenants: { default: { sandbox: false } } });
    const users = await request(server.url)
      .get('/scim/v2/Users')
      .set('Authorization', 'Bearer startup-token-0123456789abcdef0123456789');
    expect(users.status).toBe(503);
    expect(users.headers['retry-after']).toBeDefined();
    expect(server.output()).not.toContain('kit-key-that-goes-nowhere');
  }, 60000);

  it('refuses to start with an invalid setting, naming the variable and not its value', async () => {
    await expect(
      startServerProcess(
        {
          KIT_API_KEY: 'k',
          SCIM_BEARER_TOKENS: 'okta=startup-token-0123456789abcdef0123456789',
          KIT_RATE_LIMIT_PER_MINUTE: '500',
        },
        10000,
      ),
    ).rejects.toThrow(/KIT_RATE_LIMIT_PER_MINUTE/);
  });

  // A deployment that forgot its Kit credential must not provision into an in-memory Kit (the whole matrix of
  // signals is in test/config.test.ts; here the process itself).
  it('NODE_ENV=production with SCIM_BEARER_TOKENS exits 2 with one line naming what to set, no banner, no token', async () => {
    const { code, stdout, stderr } = await runServerProcessToExit({
      NODE_ENV: 'production',
      SCIM_BEARER_TOKENS: IDP_TOKEN,
      PORT: '0',
    });
    expect(code).toBe(2);
    const lines = refusalLines(stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/SCIM_BEARER_TOKENS, NODE_ENV=production say this is a deployment/);
    for (const variable of [
      'KIT_API_KEY',
      'KIT_ACCESS_TOKEN',
      'KIT_API_SECRET with KIT_API_VERSION=v3',
      'KIT_SANDBOX=on',
    ])
      expect(lines[0]).toContain(variable);
    expect(stderr).not.toContain(IDP_TOKEN.slice('okta='.length));
    expect(stdout).not.toMatch(/SANDBOX|Bearer token|listening/);
  });

  it('KIT_SANDBOX=on runs on the sandbox all the same, and says so on the console, /readyz and /status', async () => {
    server = await startServerProcess({
      NODE_ENV: 'production',
      SCIM_BEARER_TOKENS: IDP_TOKEN,
      KIT_SANDBOX: 'on',
      LOG_LEVEL: 'info',
    });
    const token = IDP_TOKEN.slice('okta='.length);
    expect(server.output()).toMatch(/BUILT-IN KIT SANDBOX \(KIT_SANDBOX=on\)/);
    // The operator's own token, never one made up.
    expect(server.output()).toContain('Bearer tokens: as configured');
    expect(server.output()).not.toContain(token);
    const users = await request(server.url).get('/scim/v2/Users').set('Authorization', `Bearer ${token}`);
    expect(users.status).toBe(200);
    const ready = await request(server.url).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.sandbox).toBe(true);
    expect(await statusPage(server.url, token)).toContain(
      'SANDBOX: this tenant runs on the built-in in-memory Kit sandbox',
    );
  });

  it('an AUDIT_LOG that cannot be opened exits 2 with one line naming AUDIT_LOG and the path', async () => {
    const { code, stdout, stderr } = await runServerProcessToExit({ AUDIT_LOG: '/nonexistent/audit/a.log' });
    expect(code).toBe(2);
    expect(refusalLines(stderr)).toEqual([
      'Invalid configuration: AUDIT_LOG: cannot open /nonexistent/audit/a.log for appending (its directory does not exist); name a writable file, or set AUDIT_LOG=stdout',
    ]);
    expect(stdout).not.toMatch(/Bearer token for this run|"msg":"listening"/);
  });

  // The port is taken by another process: one line naming PORT, and no token for a server that never listened.
  it('on a port in use exits 2 with one line naming PORT and the port, no stack trace, and prints no token', async () => {
    const holder = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as net.AddressInfo).port));
    });
    let run: Awaited<ReturnType<typeof runServerProcessToExit>>;
    try {
      run = await runServerProcessToExit({ PORT: String(port), LOG_LEVEL: 'info' });
    } finally {
      holder.close();
    }
    const { code, stdout, stderr } = run;
    expect(code).toBe(2);
    expect(refusalLines(stderr)).toEqual([
      `convertkit-scim cannot listen: port ${port} is already in use; set PORT to a free port (or stop what holds ${port})`,
    ]);
    expect(stdout).not.toMatch(/Bearer token for this run|Try: curl|dev-|"msg":"listening"/);
  });
});

describe('start-up with a tenants file of sandbox tenants', () => {
  let server: ServerProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives each sandbox tenant its own Kit account and a printed token that opens only its own path', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kscim-start-tenants-'));
    const file = path.join(dir, 'tenants.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tenants:',
        ...['north', 'south'].flatMap((id) => [`  - id: ${id}`, '    kit:', '      sandbox: true']),
      ]
        .concat('')
        .join('\n'),
    );
    server = await startServerProcess({ TENANTS_FILE: file, LOG_LEVEL: 'info', AUDIT_LOG: 'off' });
    const banner = server.output();
    expect(banner).toMatch(/BUILT-IN KIT SANDBOX/);
    const tokenOf = (id: string) =>
      banner.match(new RegExp(`Tenant ${id}:\\n.*\\n\\s*Bearer token for this run: (\\S+)`))?.[1];
    const north = tokenOf('north');
    const south = tokenOf('south');
    expect(north).toBeDefined();
    expect(south).toBeDefined();
    expect(north).not.toBe(south);
    const as = (token: string, tenant: string) =>
      request(server!.url).get(`/tenants/${tenant}/scim/v2/Users`).set('Authorization', `Bearer ${token}`);
    const created = await request(server.url)
      .post('/tenants/north/scim/v2/Users')
      .set('Authorization', `Bearer ${north}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify(oktaUser(`north.${unique()}@example.com`)));
    expect(created.status).toBe(201);
    expect((await as(north!, 'north')).body.totalResults).toBe(1);
    // South's account is another Kit account: north's user is not there.
    expect((await as(south!, 'south')).body.totalResults).toBe(0);
    expectScimError(await as(north!, 'south'), 404);
    // With two tenants the single-tenant base answers where to go instead.
    expectScimError(await request(server.url).get('/scim/v2/Users').set('Authorization', `Bearer ${north}`), 404);
  });
});
