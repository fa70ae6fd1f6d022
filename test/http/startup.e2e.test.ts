import request from 'supertest';
import { freePort, type ServerProcess, startServerProcess } from '../support/serverProcess';

// `npm start` as a new user meets it: the real entry point (src/main.ts) in its own process.
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
