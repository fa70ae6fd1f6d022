import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import { SCIM_EVENT } from '../../src/events/securityEvent';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';
import type { ReceivedSet } from './receiver';

// RFC 8935 push to a receiver written here: a real HTTP server on loopback that checks the transmitter's bearer
// token, verifies every SET with jose against the published JWKS, answers 202, or 503 while "down", or an
// RFC 8935 400 error for SETs it refuses.

const PUSH_TOKEN = 'push-receiver-token-0123456789abcdef012345';
const AUDIENCE = 'https://iga.example/push';

class PushReceiver {
  readonly received: ReceivedSet[] = [];
  readonly unverified: string[] = [];
  downFor = 0;
  refuseNext = 0;
  attempts = 0;
  server!: Server;
  url!: string;
  private jwks!: ReturnType<typeof createRemoteJWKSet>;

  async start(transmitter: string): Promise<void> {
    this.jwks = createRemoteJWKSet(new URL(`${transmitter}/scim/v2/Events/jwks.json`));
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req.headers, Buffer.concat(chunks).toString(), res));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
    this.issuer = transmitter;
  }

  private issuer = '';

  private async handle(headers: Record<string, unknown>, body: string, res: import('node:http').ServerResponse) {
    this.attempts++;
    if (headers.authorization !== `Bearer ${PUSH_TOKEN}`) return res.writeHead(401).end();
    if (headers['content-type'] !== 'application/secevent+jwt') return res.writeHead(415).end();
    if (this.downFor > 0) {
      this.downFor--;
      return res.writeHead(503).end();
    }
    try {
      const { payload } = await jwtVerify(body, this.jwks, {
        issuer: this.issuer,
        audience: AUDIENCE,
        typ: 'secevent+jwt',
      });
      if (this.refuseNext > 0) {
        this.refuseNext--;
        res.writeHead(400, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ err: 'invalid_request', description: 'refused by the test' }));
      }
      this.received.push(payload as ReceivedSet);
      res.writeHead(202).end();
    } catch {
      this.unverified.push(body);
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ err: 'invalid_key', description: 'signature' }));
    }
  }

  eventsOf(uri: string): string[][] {
    return this.received.filter((s) => s.sub_id.uri === uri).map((s) => Object.keys(s.events));
  }
}

describe('SCIM security events pushed (RFC 8935)', () => {
  let h: Harness;
  let server: Server;
  const receiver = new PushReceiver();
  const keyFile = join(mkdtempSync(join(tmpdir(), 'scim-events-')), 'key.json');
  // Everything the server logs, at debug: no receiver token or private key may appear in it.
  let logged = '';
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk);
        done();
      },
    }),
  );

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await receiver.start(base);
    h = await startHarness({
      env: {
        PUBLIC_BASE_URL: base,
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `pushy=${PUSH_TOKEN}@${AUDIENCE}`,
        SCIM_EVENTS_PUSH: `pushy=${receiver.url}`,
        SCIM_EVENTS_KEY_FILE: keyFile,
        LOG_LEVEL: 'debug',
      },
      logger,
    });
    server = await h.service.listen(port, '127.0.0.1');
  });
  afterAll(async () => {
    server?.close();
    await h.close();
    receiver.server.close();
  });

  it('delivers create and deactivate SETs, verified against the JWKS, once each', async () => {
    const res = await h.post('/scim/v2/Users', oktaUser(`push.${unique()}@example.com`)).expect(201);
    await h.patch(`/scim/v2/Users/${res.body.id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    await eventually(() => receiver.eventsOf(`/Users/${res.body.id}`).length === 2);
    expect(receiver.eventsOf(`/Users/${res.body.id}`)).toEqual([[SCIM_EVENT.createNotice], [SCIM_EVENT.deactivate]]);
    expect(receiver.unverified).toEqual([]);
  });

  it('a receiver down for a while receives everything after it returns, in order per subject, each SET once', async () => {
    receiver.downFor = 4;
    const before = receiver.received.length;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await h.post('/scim/v2/Users', oktaUser(`down.${unique()}@example.com`))).body.id);
    for (const id of ids)
      await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    await h.del(`/scim/v2/Users/${ids[0]}`).expect(204);
    await eventually(() => receiver.received.length - before === 7, 300);
    expect(receiver.downFor).toBe(0);
    expect(receiver.eventsOf(`/Users/${ids[0]}`)).toEqual([
      [SCIM_EVENT.createNotice],
      [SCIM_EVENT.deactivate],
      [SCIM_EVENT.delete],
    ]);
    for (const id of ids.slice(1))
      expect(receiver.eventsOf(`/Users/${id}`)).toEqual([[SCIM_EVENT.createNotice], [SCIM_EVENT.deactivate]]);
    const jtis = receiver.received.map((s) => s.jti);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('an RFC 8935 400 error settles that SET as failed (not retried) and the next one goes on', async () => {
    receiver.refuseNext = 1;
    const a = await h.post('/scim/v2/Users', oktaUser(`refused.${unique()}@example.com`)).expect(201);
    const b = await h.post('/scim/v2/Users', oktaUser(`after.${unique()}@example.com`)).expect(201);
    await eventually(() => receiver.eventsOf(`/Users/${b.body.id}`).length === 1);
    expect(receiver.eventsOf(`/Users/${a.body.id}`)).toEqual([]);
    const text = await h.service.metrics.registry.metrics();
    expect(text).toMatch(/scim_events_failed_total\{receiver="pushy"\} 1\n/);
    expect(text).toMatch(/scim_events_pending\{receiver="pushy"\} 0\n/);
  });

  it('logs name the receiver and the jti, never the receiver token or the signing key', async () => {
    expect(logged).toContain('security event refused by its receiver');
    expect(logged).toContain('SET push failed; retrying');
    expect(logged).not.toContain(PUSH_TOKEN);
    const jwk = JSON.parse(readFileSync(keyFile, 'utf8')) as { d: string };
    expect(logged).not.toContain(jwk.d);
  });
});

describe('SCIM security events pushed to a receiver that never comes back', () => {
  it('are dead-lettered after SCIM_EVENTS_DEAD_LETTER_SECONDS (metric), and the outbox empties', async () => {
    const receiver = new PushReceiver();
    receiver.downFor = Number.MAX_SAFE_INTEGER;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await receiver.start(base);
    const h = await startHarness({
      env: {
        PUBLIC_BASE_URL: base,
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `gone=${PUSH_TOKEN}@${AUDIENCE}`,
        SCIM_EVENTS_PUSH: `gone=${receiver.url}`,
        SCIM_EVENTS_DEAD_LETTER_SECONDS: '1',
        SCIM_EVENTS_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'scim-events-')), 'key.json'),
      },
    });
    try {
      await h.post('/scim/v2/Users', oktaUser(`gone.${unique()}@example.com`)).expect(201);
      const metric = async () => h.service.metrics.registry.metrics();
      await eventually(async () => /scim_events_dead_lettered_total\{receiver="gone"\} 1\n/.test(await metric()), 100);
      expect(await metric()).toMatch(/scim_events_pending\{receiver="gone"\} 0\n/);
      expect(receiver.attempts).toBeGreaterThan(1);
      expect(receiver.received).toEqual([]);
    } finally {
      await h.close();
      receiver.server.close();
    }
  });
});
