import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { type KitSandbox, type SandboxAccount, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { oktaUser } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectScimError } from '../support/scim';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';
import { unique } from '../support/unique';

// The real entry point (src/app/main.ts) re-reads TENANTS_FILE on SIGHUP. A tenant is added and another
// removed while requests to the removed one are held inside Kit (the sandbox's injected latency waits on a gate
// this test opens), and those requests still complete; a broken file is refused and the running tenants kept.

const TOKENS = {
  a: 'tenant-a-token-0123456789abcdef0123456789',
  b: 'tenant-b-token-0123456789abcdef0123456789',
  c: 'tenant-c-token-0123456789abcdef0123456789',
};
type Id = keyof typeof TOKENS;

function tenantsYaml(sandbox: KitSandbox, accounts: Record<Id, SandboxAccount>, ids: Id[]): string {
  const entries = ids.map((id) =>
    [
      `  - id: ${id}`,
      `    kit:`,
      `      apiKey: ${accounts[id].apiKey}`,
      `      baseUrl: ${sandbox.url}`,
      `    bearerTokens:`,
      `      - name: idp-${id}`,
      `        token: ${TOKENS[id]}`,
    ].join('\n'),
  );
  return ['version: 1', 'tenants:', ...entries, ''].join('\n');
}

/** The server's first log line holding `message`, once it has been written. */
async function logLine(server: ServerProcess, message: string): Promise<string> {
  const line = () =>
    server
      .output()
      .split('\n')
      .find((l) => l.includes(message));
  await eventually(() => line() !== undefined);
  return line()!;
}

describe('SIGHUP reloads the tenants file', () => {
  let sandbox: KitSandbox;
  let server: ServerProcess | undefined;
  let dir: string;
  /** Kit answers to GET /v4/subscribers/:id, held until released. */
  const held: Array<() => void> = [];

  beforeAll(async () => {
    sandbox = await startKitSandbox({
      sleep: () => new Promise<void>((resolve) => held.push(resolve)),
      reportError: () => undefined,
    });
    dir = mkdtempSync(path.join(tmpdir(), 'kscim-tenants-'));
  });
  afterAll(async () => {
    sandbox.resetFaults();
    for (const release of held.splice(0)) release();
    await server?.stop();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a tenant and removes another with requests in flight; a broken file is refused', async () => {
    const accounts = { a: sandbox.createAccount(), b: sandbox.createAccount(), c: sandbox.createAccount() };
    const file = path.join(dir, 'tenants.yaml');
    writeFileSync(file, tenantsYaml(sandbox, accounts, ['a', 'b']));
    server = await startServerProcess({ TENANTS_FILE: file, LOG_LEVEL: 'info', AUDIT_LOG: 'off' });
    const url = server.url;
    const as = (id: Id) => (t: request.Test) => t.set('Authorization', `Bearer ${TOKENS[id]}`);
    const usersOf = (id: Id, tenant: string = id) => as(id)(request(url).get(`/tenants/${tenant}/scim/v2/Users`));

    // Three users (three reads of one user would be one Kit call: identical reads in flight are shared).
    const emails = [1, 2, 3].map(() => `held.${unique()}@example.com`);
    const ids: string[] = [];
    for (const email of emails) {
      const created = await as('b')(request(url).post('/tenants/b/scim/v2/Users'))
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify(oktaUser(email)));
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
    expect((await usersOf('a')).status).toBe(200);

    // Three reads of b's users, each held inside Kit until the test lets go.
    sandbox.setFaults({ latencyMs: 1, endpoints: ['GET /v4/subscribers/:id'] });
    const inFlight = ids.map((id) => as('b')(request(url).get(`/tenants/b/scim/v2/Users/${id}`)).then((r) => r));
    await eventually(() => held.length === 3);

    writeFileSync(file, tenantsYaml(sandbox, accounts, ['a', 'c']));
    server.child.kill('SIGHUP');
    const reloaded = await logLine(server, 'tenants file reloaded');
    expect(JSON.parse(reloaded)).toMatchObject({ added: ['c'], removed: ['b'], unchanged: ['a'] });

    // New requests: b is gone (its own token included), c serves, a never noticed.
    expectScimError(await usersOf('b'), 404);
    const c = await usersOf('c');
    expect(c.status).toBe(200);
    expect(c.body.totalResults).toBe(0);
    expect((await usersOf('a')).status).toBe(200);

    // The requests b received before the reload complete with b's user.
    for (const release of held.splice(0)) release();
    sandbox.resetFaults();
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(answers.map((r) => r.body.userName)).toEqual(emails);

    // A file with a mistake: refused with a line naming it; the running tenants go on.
    writeFileSync(file, `${tenantsYaml(sandbox, accounts, ['a', 'c'])}  - id: Not_Valid\n`);
    server.child.kill('SIGHUP');
    const refused = await logLine(server, 'tenants file refused');
    expect(refused).toContain('tenants.yaml');
    expect(refused).toMatch(/line \d+/);
    expect(refused).not.toContain(TOKENS.a);
    expect((await usersOf('a')).status).toBe(200);
    expect((await usersOf('c')).status).toBe(200);
    expectScimError(await usersOf('b'), 404);
  });
});
