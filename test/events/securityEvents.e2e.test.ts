import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIT_EVENT_EXTENSION, SCIM_EVENT } from '../../src/events/securityEvent';
import request from 'supertest';
import { type Harness, oktaUser, patch, startHarness, TOKEN } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';
import { PollingReceiver } from './receiver';

// SCIM security events end to end: the server on a real port (Kit's sandbox delivers webhooks to it, the receiver
// fetches its JWKS), a receiver written here polling RFC 8936 and verifying every SET with jose against the published
// JWKS.

const SECRET = 'whsec-events-0123456789abcdef0123456789ab';
const IGA_TOKEN = 'iga-receiver-token-0123456789abcdef0123456789';
const AUDIENCE = 'https://iga.example/scim-events';

describe('SCIM security events (RFC 9967 SETs, RFC 8936 poll)', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  let iga: PollingReceiver;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: {
        PUBLIC_BASE_URL: base,
        KIT_WEBHOOK_SECRET: SECRET,
        SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@${AUDIENCE}`,
        SCIM_EVENTS_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'scim-events-')), 'key.json'),
        SCIM_EVENTS_MAX_WAIT_SECONDS: '2',
        // Tests of refusals name their own client address (X-Forwarded-For), as a proxy would.
        TRUST_PROXY: 'true',
      },
      sandbox: { webhookRetryDelaysMs: [20, 40] },
      // Past the budget, the next check waits a minute: a slow machine cannot open a slot mid-test.
      failureThrottle: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    server = await h.service.listen(port, '127.0.0.1');
    await eventually(() => h.sandbox.store.listWebhooks().length === 4);
    await eventually(() => h.service.scim().tracking.mirror!.complete());
    iga = new PollingReceiver(base, IGA_TOKEN, AUDIENCE);
  });
  afterAll(async () => {
    server?.close();
    await h.close();
  });

  /**
   * The mirror learns of subscribers added straight into Kit's store (no webhook for those) by a walk, which
   * reports no change for an active newcomer: the next state change is then the only one.
   */
  const known = async () => {
    await h.service.scim().tracking.mirror!.walk();
    await settle();
    await iga.drain();
  };

  const settle = async () => {
    await h.sandbox.webhooks.idle();
    await h.service.hints!.idle();
    await h.service.events!.publisher.idle();
  };

  it('an unsubscribe clicked in Kit yields exactly one prov:deactivate SET for that user, saying why', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `click.${unique()}@example.com` });
    await known();
    h.sandbox.store.setState(s.id, 'inactive');
    await settle();
    // A GET reads the same state again: no second change, so no second SET.
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(false);
    await settle();
    const sets = await iga.drain();
    const mine = sets.filter((x) => x.sub_id.uri === `/Users/${s.id}`);
    expect(iga.eventsOf(`/Users/${s.id}`)).toEqual([[SCIM_EVENT.deactivate]]);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      iss: base,
      aud: AUDIENCE,
      sub_id: { format: 'scim', uri: `/Users/${s.id}` },
      events: { [SCIM_EVENT.deactivate]: { [KIT_EVENT_EXTENSION]: { reason: 'unsubscribe', source: 'webhook' } } },
    });
    expect(typeof mine[0]!.jti).toBe('string');
    expect(typeof mine[0]!.txn).toBe('string');
    expect(Number.isInteger(mine[0]!.iat)).toBe(true);
  });

  it('a subscriber Kit first shows unsubscribed is one SET: created and deactivated', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `unknown.${unique()}@example.com` });
    h.sandbox.store.setState(s.id, 'inactive');
    await settle();
    await eventually(async () => {
      await settle();
      await iga.poll();
      return iga.eventsOf(`/Users/${s.id}`).length > 0;
    });
    await iga.drain();
    expect(iga.eventsOf(`/Users/${s.id}`)).toEqual([[SCIM_EVENT.createNotice, SCIM_EVENT.deactivate]]);
  });

  it('a bounce and a complaint say so in the extension', async () => {
    const a = h.sandbox.store.addSubscriber({ email_address: `bounce.${unique()}@example.com` });
    const b = h.sandbox.store.addSubscriber({ email_address: `complain.${unique()}@example.com` });
    await known();
    h.sandbox.store.setState(a.id, 'bounced');
    h.sandbox.store.setState(b.id, 'complained');
    await settle();
    const sets = await iga.drain();
    const reasonOf = (id: number) =>
      sets
        .filter((x) => x.sub_id.uri === `/Users/${id}`)
        .map((x) => (x.events[SCIM_EVENT.deactivate]?.[KIT_EVENT_EXTENSION] as { reason?: string })?.reason);
    expect(reasonOf(a.id)).toEqual(['bounce']);
    expect(reasonOf(b.id)).toEqual(['complaint']);
  });

  it('SCIM create, PATCH, PUT, deactivate and DELETE each yield their event, in order, one txn and jti each', async () => {
    await iga.drain();
    const email = `scim.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'displayName', value: 'Ada L.' })).expect(200);
    await h.put(`/scim/v2/Users/${id}`, oktaUser(email, { displayName: 'Ada King' })).expect(200);
    await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    await h.del(`/scim/v2/Users/${id}`).expect(204);
    await settle();
    const sets = await iga.drain();
    expect(iga.eventsOf(`/Users/${id}`, sets)).toEqual([
      [SCIM_EVENT.createNotice],
      [SCIM_EVENT.patchNotice],
      [SCIM_EVENT.putNotice],
      [SCIM_EVENT.deactivate],
      [SCIM_EVENT.delete],
    ]);
    const mine = sets.filter((x) => x.sub_id.uri === `/Users/${id}`);
    expect(new Set(mine.map((x) => x.jti)).size).toBe(5);
    expect(new Set(mine.map((x) => x.txn)).size).toBe(5);
    // Notice events carry no values: nothing of the user (its email) is in any SET.
    expect(JSON.stringify(mine)).not.toContain(email);
    // A deactivation made through SCIM carries no Kit reason: it is the IdP's own.
    expect(mine[3]!.events[SCIM_EVENT.deactivate]).toEqual({});
  });

  it('a User PATCH notice names the attributes changed, never their values', async () => {
    const email = `names.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await iga.drain();
    await h
      .patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'name.givenName', value: 'Augusta' }))
      .expect(200);
    await settle();
    const mine = (await iga.drain()).filter((x) => x.sub_id.uri === `/Users/${id}`);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.events).toEqual({ [SCIM_EVENT.patchNotice]: { attributes: ['name.givenName'] } });
    expect(JSON.stringify(mine)).not.toContain('Augusta');
  });

  it('SCIM Group create, PATCH, PUT and DELETE each yield their event for /Groups/<id>, naming what changed', async () => {
    const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
    const member = await h.post('/scim/v2/Users', oktaUser(`member.${unique()}@example.com`));
    expect(member.status).toBe(201);
    const memberId = member.body.id as string;
    await settle();
    await iga.drain();
    const name = `Events ${unique()}`;
    const created = await h.post('/scim/v2/Groups', { schemas: [GROUP], displayName: name, members: [] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await h
      .patch(`/scim/v2/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: memberId }] }))
      .expect(204);
    await h
      .put(`/scim/v2/Groups/${id}`, { schemas: [GROUP], id, displayName: `${name} renamed`, members: [] })
      .expect(200);
    await h.del(`/scim/v2/Groups/${id}`).expect(204);
    await settle();
    const sets = await iga.drain();
    const mine = sets.filter((x) => x.sub_id.uri === `/Groups/${id}`);
    expect(mine.map((x) => x.events)).toEqual([
      { [SCIM_EVENT.createNotice]: { attributes: ['displayName'] } },
      { [SCIM_EVENT.patchNotice]: { attributes: ['members'] } },
      { [SCIM_EVENT.putNotice]: { attributes: ['displayName', 'members'] } },
      { [SCIM_EVENT.delete]: {} },
    ]);
    for (const x of mine) expect(x).toMatchObject({ iss: base, aud: AUDIENCE, sub_id: { format: 'scim' } });
    expect(new Set(mine.map((x) => x.txn)).size).toBe(4);
    expect(JSON.stringify(mine)).not.toContain(name);
  });

  it('a receiver that stops polling gets everything when it returns, in order per subject', async () => {
    await iga.drain();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.post('/scim/v2/Users', oktaUser(`away.${unique()}@example.com`));
      ids.push(res.body.id as string);
    }
    for (const id of ids)
      await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    await settle();
    // Small polls, never acknowledging the first batch until the next: what a receiver back from an outage does.
    const got: string[][] = [];
    for (let i = 0; i < 10; i++) {
      const batch = await iga.poll({ maxEvents: 2 });
      if (batch.length === 0) break;
      got.push(...batch.map((x) => [x.sub_id.uri, Object.keys(x.events)[0]!]));
    }
    await iga.poll({ maxEvents: 0 });
    for (const id of ids)
      expect(got.filter(([uri]) => uri === `/Users/${id}`).map(([, e]) => e)).toEqual([
        SCIM_EVENT.createNotice,
        SCIM_EVENT.deactivate,
      ]);
  });

  it('a long poll answers as soon as a SET is queued', async () => {
    await iga.drain();
    const waiting = iga.poll({ returnImmediately: false });
    const res = await h.post('/scim/v2/Users', oktaUser(`longpoll.${unique()}@example.com`));
    await settle();
    const sets = await waiting;
    expect(sets.map((x) => x.sub_id.uri)).toContain(`/Users/${res.body.id}`);
    await iga.poll({ maxEvents: 0 });
  });

  it('a tampered SET fails verification against the published JWKS', async () => {
    await h.post('/scim/v2/Users', oktaUser(`tamper.${unique()}@example.com`)).expect(201);
    await settle();
    const res = await iga.post({ maxEvents: 1, returnImmediately: true });
    const [jti, jwt] = Object.entries(res.body.sets as Record<string, string>)[0]!;
    await expect(iga.verify(jwt)).resolves.toMatchObject({ jti });
    const [header, payload, signature] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.sub_id.uri = '/Users/1';
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    await expect(iga.verify(forged)).rejects.toThrow(/signature verification failed/);
    // Another audience's receiver refuses it too.
    const other = new PollingReceiver(base, IGA_TOKEN, 'https://someone-else.example');
    await expect(other.verify(jwt)).rejects.toThrow(/aud/);
    await iga.post({ ack: [jti], maxEvents: 0 });
    await iga.drain();
  });

  it('ServiceProviderConfig advertises security events: the event URIs, poll delivery, the endpoint and the JWKS', async () => {
    const res = await h.get('/scim/v2/ServiceProviderConfig').expect(200);
    // RFC 9967 §4: the core schema's own attribute.
    expect(res.body.securityEvents).toEqual({
      asyncRequest: 'none',
      eventUris: expect.arrayContaining([SCIM_EVENT.deactivate, SCIM_EVENT.createNotice, SCIM_EVENT.delete]),
    });
    // The extension (stream set-up the RFC leaves out of scope) is still there for receivers that read it.
    const ext = 'urn:ietf:params:scim:schemas:extension:kit:2.0:ServiceProviderConfig';
    expect(res.body.schemas).toContain(ext);
    expect(res.body[ext].securityEvents).toEqual({
      supported: true,
      eventUris: expect.arrayContaining([SCIM_EVENT.deactivate, SCIM_EVENT.createNotice, SCIM_EVENT.delete]),
      delivery: ['urn:ietf:rfc:8936'],
      pollEndpoint: `${base}/scim/v2/Events`,
      jwksUri: `${base}/scim/v2/Events/jwks.json`,
      subjectFormat: 'scim',
      signingAlgValues: ['ES256'],
    });
    expect(JSON.stringify(res.body)).not.toContain(IGA_TOKEN);
  });

  it('the JWKS is public and holds only public keys; the poll endpoint refuses bad credentials and bad bodies in RFC 8936 errors', async () => {
    const jwks = (await (await fetch(`${base}/scim/v2/Events/jwks.json`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();

    const noToken = await iga.post({}, 'x'.repeat(40));
    expect(noToken.status).toBe(401);
    expect(noToken.body).toEqual({ err: 'authentication_failed', description: expect.any(String) });
    // A SCIM bearer token is not a receiver token.
    expect((await iga.post({}, 'test-token-0123456789abcdef0123456789')).status).toBe(401);

    for (const body of ['{not json', { ack: 'x' }, { maxEvents: -1 }, { returnImmediately: 'yes' }, { setErrs: [] }]) {
      const res = await iga.post(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ err: 'invalid_request', description: expect.any(String) });
      expect(res.text).not.toContain(IGA_TOKEN);
    }
  });

  it('setErrs settles a SET as failed and counts it; metrics report queued, delivered, failed and pending', async () => {
    await settle();
    await iga.drain();
    await h.post('/scim/v2/Users', oktaUser(`rejected.${unique()}@example.com`)).expect(201);
    await settle();
    const res = await iga.post({ maxEvents: 10, returnImmediately: true });
    const jtis = Object.keys(res.body.sets);
    expect(jtis.length).toBeGreaterThan(0);
    const settled = await iga.post({
      maxEvents: 0,
      setErrs: Object.fromEntries(jtis.map((j) => [j, { err: 'invalid_key', description: 'test' }])),
    });
    expect(settled.status).toBe(200);
    expect(settled.body).toEqual({ sets: {}, moreAvailable: false });
    // And one acknowledged.
    await h.post('/scim/v2/Users', oktaUser(`acked.${unique()}@example.com`)).expect(201);
    await settle();
    expect((await iga.drain()).length).toBeGreaterThan(0);
    const text = await h.service.metrics.registry.metrics();
    expect(text).toMatch(/scim_events_failed_total\{receiver="iga"\} [1-9]/);
    expect(text).toMatch(/scim_events_delivered_total\{receiver="iga"\} [1-9]/);
    expect(text).toMatch(/scim_events_queued_total\{receiver="iga"\} [1-9]/);
    expect(text).toMatch(/scim_events_pending\{receiver="iga"\} 0/);
    expect(text).toMatch(/scim_events_oldest_pending_seconds\{receiver="iga"\} 0/);
  });

  it('receiver token failures go through the failure throttle; the right receiver token is served meanwhile', async () => {
    const from = '10.15.0.1';
    const pollAs = (token: string) =>
      request(h.service.app)
        .post('/scim/v2/Events')
        .set('X-Forwarded-For', from)
        .set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ returnImmediately: true, maxEvents: 0 }));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await pollAs(`wrong-receiver-${i}-0123456789abcdef0123`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
    const refused = await pollAs('wrong-receiver-again-0123456789abcdef0123');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.text).not.toContain('wrong-receiver');

    const right = await pollAs(IGA_TOKEN);
    expect(right.status).toBe(200);
    expect(right.body).toEqual({ sets: {}, moreAvailable: expect.any(Boolean) });
    // One throttle for every credential: the address's wrong SCIM credentials are refused now too, its right
    // SCIM token served.
    const scim = (token: string) =>
      request(h.service.app).get('/scim/v2/Users').set('X-Forwarded-For', from).set('Authorization', `Bearer ${token}`);
    expect((await scim('wrong-scim-token-0123456789abcdef0123')).status).toBe(429);
    expect((await scim(TOKEN)).status).toBe(200);
    const metrics = await h.service.metrics.registry.metrics();
    expect(metrics).toMatch(/scim_auth_failures_total\{reason="unknown_token"\} ([6-9]|\d\d)/);
    expect(metrics).toMatch(/scim_auth_failures_total\{reason="throttled"\} [3-9]/);
  });
});
