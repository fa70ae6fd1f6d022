import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { startResponseDroppingProxy } from '../fixtures/http/responseDroppingProxy';
import { JumpClock } from '../support/clock';
import { type Harness, oktaUser, startHarness, TOKEN } from '../support/harness';
import { startServerProcess } from '../support/serverProcess';

// Graceful shutdown: on SIGTERM the server stops accepting, lets in-flight requests finish, gives up
// Kit work still queued in the rate limiter (those callers get a retryable 503 with Retry-After, and nothing
// of theirs reaches Kit), and exits 0 within SHUTDOWN_TIMEOUT_MS. The real entry point runs in its own process.
// No stopwatch here: the process proves it kept its deadline by exiting 0 (main.ts's last-resort timer exits 1)
// and by what it logged; the deadline itself is reached in-process on a clock the test moves.

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One request on its own agent; resolves with the whole answer or rejects with the socket error. */
function call(
  port: number,
  method: string,
  urlPath: string,
  opts: { body?: unknown; agent?: http.Agent | false } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent: opts.agent ?? false,
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          ...(payload ? { 'Content-Type': 'application/scim+json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted mid-body')));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const length = res.headers['content-length'];
          if (length !== undefined && Number(length) !== Buffer.byteLength(text)) {
            reject(new Error(`truncated body: ${Buffer.byteLength(text)} of ${length} bytes`));
            return;
          }
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            reject(new Error(`unparseable body: ${text.slice(0, 200)}`));
            return;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface Server {
  child: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** src/app/main.ts in its own process (test/support/serverProcess.ts), against the given sandbox. */
async function startServer(sandbox: KitSandbox, env: Record<string, string>): Promise<Server> {
  const proc = await startServerProcess({
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'info',
    ...env,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const port = Number(new URL(proc.url).port);
  expect((await call(port, 'GET', '/readyz')).status).toBe(200);
  return { child: proc.child, port, output: proc.output, exited };
}

/** A bounded wait for an event the test cannot subscribe to: polls `ok` every 10 ms, 1,500 times at most. */
async function waitFor(what: string, ok: () => boolean, attempts = 1_500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (ok()) return;
    await sleep(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The log lines of the server process that carry `msg`. */
const logged = (server: Server, msg: string) =>
  server
    .output()
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}`));

describe('SIGTERM on the real server process', () => {
  let sandbox: KitSandbox;
  let server: Server | undefined;
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
  });
  afterEach(() => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    sandbox.resetFaults();
  });
  afterAll(() => sandbox.close());

  it('finishes in-flight requests, answers queued ones 503 + Retry-After, writes nothing half, exits 0 before the deadline', async () => {
    // 120 calls per 12 s: one Kit call every ~105 ms, so a burst of creates queues in the limiter.
    server = await startServer(sandbox, { KIT_RATE_WINDOW_MS: '12000', SHUTDOWN_TIMEOUT_MS: '9000' });
    const { port } = server;
    sandbox.setFaults({ latencyMs: 150 });

    // A keep-alive connection left idle: it must not hold the shutdown up.
    const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await call(port, 'GET', '/scim/v2/Users?count=1', { agent: idleAgent })).status).toBe(200);

    const emails = Array.from({ length: 16 }, (_, i) => `shutdown-${i}@example.com`);
    const before = sandbox.calls().byEndpoint['POST /v4/subscribers'] ?? 0;
    const busyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const creates = emails.map((email, i) =>
      call(port, 'POST', '/scim/v2/Users', {
        body: oktaUser(email, { name: { givenName: `G${i}`, familyName: `F${i}` }, externalId: `x-${i}` }),
        // The last create is still queued at SIGTERM: its keep-alive connection must end with its answer.
        agent: i === emails.length - 1 ? busyAgent : false,
      }).then(
        (answer) => ({ email, answer, error: undefined as Error | undefined }),
        (error: Error) => ({ email, answer: undefined, error }),
      ),
    );
    // Some creates have reached Kit; the others wait in the limiter.
    await waitFor(
      'two creates to reach Kit',
      () => (sandbox.calls().byEndpoint['POST /v4/subscribers'] ?? 0) >= before + 2,
    );

    server.child.kill('SIGTERM');
    const results = await Promise.all(creates);
    const exit = await server.exited;

    if (process.env.SHUTDOWN_STATS) {
      console.log({ statuses: results.map((r) => r.answer?.status ?? r.error?.message) });
    }
    // Nobody's connection was cut: every request got a whole answer.
    expect(results.filter((r) => r.error).map((r) => `${r.email}: ${r.error!.message}`)).toEqual([]);
    const created = results.filter((r) => r.answer!.status === 201);
    const refused = results.filter((r) => r.answer!.status !== 201);
    for (const r of refused) {
      expect(r.answer!.status).toBe(503);
      expect(Number(r.answer!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.answer!.headers['content-type']).toMatch(/application\/scim\+json/);
      expect(r.answer!.body.schemas).toEqual([SCIM_ERROR]);
    }
    // Both happened: in-flight creates finished, queued ones were given up.
    expect(created.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    // The busy keep-alive connection was told it ends with this answer.
    expect(results[emails.length - 1].answer!.headers.connection).toBe('close');

    // Kit holds exactly the users that were answered 201, each complete; none of the refused ones.
    for (const r of created) {
      const sub = sandbox.store.findByEmail(r.email);
      expect(sub).toBeDefined();
      const i = emails.indexOf(r.email);
      expect(sub!.first_name).toBe(`G${i}`);
      expect(Object.values(sub!.fields)).toEqual(expect.arrayContaining([`F${i}`, `x-${i}`]));
    }
    for (const r of refused) expect(sandbox.store.findByEmail(r.email)).toBeUndefined();

    // Within SHUTDOWN_TIMEOUT_MS by the server's own clock: it finished everything before its deadline
    // (nothing was cut) and exited 0 (main.ts's last-resort timer at the deadline exits 1).
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(logged(server, 'shutting down')).toHaveLength(1);
    expect(logged(server, 'shut down')).toHaveLength(1);
    expect(logged(server, 'requests still running at the shutdown deadline')).toEqual([]);
    expect(logged(server, 'shutdown took too long')).toEqual([]);
    // The listener is gone.
    await expect(call(port, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    idleAgent.destroy();
    busyAgent.destroy();
  }, 90_000);

  it('cuts what still runs at the deadline when Kit hangs, and still exits 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    const relay = await startResponseDroppingProxy(sandbox.url);
    try {
      server = await startServer(sandbox, {
        KIT_API_URL: relay.url,
        SHUTDOWN_TIMEOUT_MS: '3000',
        KIT_TIMEOUT_MS: '60000',
      });
      const { port } = server;
      // Kit stops answering.
      relay.hang();
      const hanging = call(port, 'GET', '/scim/v2/Users/1').then(
        (answer) => `answered ${answer.status}`,
        (e: Error) => e.message,
      );
      await waitFor('Kit to hold the request', () => relay.held() > 0);
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      // The service's deadline (SHUTDOWN_TIMEOUT_MS less a second) cut the request, before main.ts's
      // last-resort timer (which exits 1): so the process was done within SHUTDOWN_TIMEOUT_MS.
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      expect(logged(server, 'requests still running at the shutdown deadline')).toHaveLength(1);
      expect(logged(server, 'shutdown took too long')).toEqual([]);
      // The request could not finish in time; its connection was closed rather than kept past the deadline.
      expect(await hanging).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      await relay.close();
    }
  }, 90_000);
});

describe('draining in-process (Service.close with the service’s own HTTP server)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('turns readiness 503, finishes in-flight requests, answers requests arriving on open connections 503 + Retry-After', async () => {
    const server = await h.service.listen(0, '127.0.0.1');
    const { port } = server.address() as AddressInfo;
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);

    h.sandbox.setFaults({ latencyMs: 300 });
    const inFlight = call(port, 'POST', '/scim/v2/Users', { body: oktaUser('drain@example.com') });
    await waitFor('the create to reach Kit', () => (h.sandbox.calls().byEndpoint['GET /v4/subscribers'] ?? 0) > 0);

    // A client that has begun a request on an open connection when the drain starts, and finishes it after.
    let serverSide: net.Socket | undefined;
    server.once('connection', (socket: net.Socket) => {
      serverSide = socket;
    });
    const late = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => late.once('connect', resolve));
    let lateAnswer = '';
    late.on('data', (d: Buffer) => {
      lateAnswer += d.toString();
    });
    const lateClosed = new Promise((resolve) => late.once('close', resolve));
    late.write('GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: localhost\r\n');
    // The server has read the first half (its parser has begun the request), so the connection is not idle.
    await waitFor('the server to read the first half', () => (serverSide?.bytesRead ?? 0) > 0);

    const closing = h.service.close();
    const ready = await request(h.service.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.shuttingDown).toBe(true);

    late.write(`Authorization: Bearer ${TOKEN}\r\n\r\n`);
    await lateClosed;
    expect(lateAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(lateAnswer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(lateAnswer).toMatch(/\r\nconnection: close\r\n/i);
    expect(lateAnswer).toContain(SCIM_ERROR);

    // The create that was in flight finishes: created, or given up before its write with a retryable 503.
    const created = await inFlight;
    expect([201, 503]).toContain(created.status);
    if (created.status === 201) expect(h.sandbox.store.findByEmail('drain@example.com')).toBeDefined();
    else expect(h.sandbox.store.findByEmail('drain@example.com')).toBeUndefined();
    await closing;
    h.sandbox.resetFaults();
    await expect(call(port, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  }, 30_000);
});

describe('the shutdown deadline, in-process on a clock the test moves', () => {
  it('cuts a request Kit never answers at SHUTDOWN_TIMEOUT_MS less a second, and not before', async () => {
    const sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    const relay = await startResponseDroppingProxy(sandbox.url);
    const clock = new JumpClock();
    // Ten minutes: were the deadline on a real timer, this test would time out instead of passing.
    const service = new Service({
      config: loadConfig({
        KIT_API_URL: relay.url,
        KIT_API_KEY: sandbox.apiKey,
        SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
        AUDIT_LOG: 'off',
        LOG_LEVEL: 'silent',
        KIT_TIMEOUT_MS: '600000',
        KIT_RATE_WINDOW_MS: '200',
        SHUTDOWN_TIMEOUT_MS: '600000',
      }),
      logger: pino({ level: 'silent' }),
      clock,
    });
    try {
      await service.bootstrap();
      const server = await service.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      relay.hang();
      const hanging = call(port, 'GET', '/scim/v2/Users/1').then(
        (answer) => `answered ${answer.status}`,
        (e: Error) => e.message,
      );
      await waitFor('Kit to hold the request', () => relay.held() > 0);

      let closed = false;
      const closing = service.close().then(() => {
        closed = true;
      });
      clock.jump(598_000);
      // A second before the deadline the request still runs: nothing was cut early.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(closed).toBe(false);
      clock.jump(1_000);
      await closing;
      expect(await hanging).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      await service.close();
      await relay.close();
      await sandbox.close();
    }
  });

  it('answers a request waiting between Kit retries 503 at once, without waiting out its backoff', async () => {
    const sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    // Waits over a quarter second (the retry backoffs, 1 s here from Kit's Retry-After) end only if the
    // service ends them: were the backoff slept out, this test would time out.
    const clock = new JumpClock({ holdAbove: 250 });
    const service = new Service({
      config: loadConfig({
        KIT_API_URL: sandbox.url,
        KIT_API_KEY: sandbox.apiKey,
        SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
        AUDIT_LOG: 'off',
        LOG_LEVEL: 'silent',
        KIT_RATE_WINDOW_MS: '200',
        SHUTDOWN_TIMEOUT_MS: '5000',
      }),
      logger: pino({ level: 'silent' }),
      clock,
    });
    try {
      await service.bootstrap();
      const server = await service.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      const endpoint = 'GET /v4/subscribers/:id';
      sandbox.setFaults({ endpoints: [endpoint], failNext: 1000, failStatus: 503 });
      const answer = call(port, 'GET', '/scim/v2/Users/1?excludedAttributes=groups');
      await waitFor('the first attempt to fail', () => (sandbox.calls().byEndpoint[endpoint] ?? 0) > 0);
      await service.close();
      const res = await answer;
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      // Nothing more was sent to Kit for it after the shutdown began.
      expect(sandbox.calls().byEndpoint[endpoint]).toBe(1);
    } finally {
      await service.close();
      await sandbox.close();
    }
  });
});
