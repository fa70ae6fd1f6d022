import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { oktaUser } from '../support/harness';
import { eventually, hasRedisServer } from '../support/privateRedis';
import { freePort, type ServerProcess, startServerProcess } from '../support/serverProcess';

// REDIS_URL=rediss://: the server speaks TLS to Redis and verifies its certificate against the CAs Node trusts
// (NODE_EXTRA_CA_CERTS for a private CA, as a managed Redis's own CA is given). A redis-server of the test's own
// with TLS only (no plaintext port) and a CA made for the test with openssl.

const TOKEN = 'tls-test-token-0123456789abcdef0123456789';

/** A CA and a certificate for localhost and 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.error?.message ?? r.stderr}`);
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=kscim test CA',
  );
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'san.cnf',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

(hasRedisServer ? describe : describe.skip)('Redis over TLS (rediss://)', () => {
  let certs: ReturnType<typeof makeCertificates>;
  let port: number;
  let redis: ChildProcess;
  let sandbox: KitSandbox;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kscim-redis-tls-'));
    certs = makeCertificates(dir);
    port = await freePort();
    redis = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        certs.cert,
        '--tls-key-file',
        certs.key,
        '--tls-ca-cert-file',
        certs.ca,
        '--tls-auth-clients',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    redis.stdout!.on('data', (d) => (out += String(d)));
    await eventually(() => out.includes('Ready to accept connections'), 100, 50);
    sandbox = await startKitSandbox();
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await sandbox?.close();
    redis?.kill('SIGKILL');
  });

  const start = async (extra: Record<string, string>) => {
    const server = await startServerProcess({
      REDIS_URL: `rediss://localhost:${port}`,
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      REDIS_PROBE_INTERVAL_MS: '200',
      AUDIT_LOG: 'off',
      ...extra,
    });
    servers.push(server);
    return server;
  };

  it('with the CA trusted: ready, and what it shares is in the TLS-only Redis', async () => {
    const server = await start({ NODE_EXTRA_CA_CERTS: certs.ca });
    await eventually(async () => (await request(server.url).get('/readyz')).status === 200, 100, 100);
    const created = await request(server.url)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('Content-Type', 'application/scim+json')
      .send(oktaUser('tls.user@example.com'));
    expect(created.status).toBe(201);
    const client = new Redis({
      host: 'localhost',
      port,
      tls: { ca: readFileSync(certs.ca) },
      lazyConnect: true,
    });
    try {
      await client.connect();
      expect(await client.dbsize()).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it('with a certificate it cannot verify: not ready, and /readyz and the log say why', async () => {
    const server = await start({});
    let readyz: request.Response | undefined;
    await eventually(
      async () => {
        readyz = await request(server.url).get('/readyz');
        return /certificate/.test(readyz.body.checks?.redis?.detail ?? '');
      },
      100,
      100,
    );
    expect(readyz!.status).toBe(503);
    expect(readyz!.body.checks.redis).toMatchObject({ ok: false });
    const told = server
      .output()
      .split('\n')
      .filter((line) => line.includes('Redis unavailable;'));
    expect(told.some((line) => /certificate/.test(line))).toBe(true);
  }, 60_000);
});
