import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { oktaUser } from '../support/harness';
import { expectScimError } from '../support/scim';
import { unique } from '../support/unique';
import { freePort, type ServerProcess, startServerProcess } from '../support/serverProcess';

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
    expect(banner).toMatch(/BUILT-IN KIT SANDBOX/);
    const token = banner.match(/Bearer token for this run: (\S+)/)?.[1];
    expect(token).toBeDefined();
    const users = await request(server.url).get('/scim/v2/Users').set('Authorization', `Bearer ${token}`);
    expect(users.status).toBe(200);
    expect(users.body.totalResults).toBe(0);
    expect((await request(server.url).get('/readyz')).status).toBe(200);
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
