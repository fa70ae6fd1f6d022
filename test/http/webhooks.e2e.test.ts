import type { Server } from 'node:http';
import request from 'supertest';
import { registerWebhooks } from '../../src/scim/webhookRegistration';
import { stampClock } from '../support/clock';
import { type Harness, patch, startListeningHarness, USER_SCHEMA } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectListResponse } from '../support/scim';
import { unique } from '../support/unique';

// Kit webhooks. The server listens on a real port so the sandbox can deliver to it, registers its
// webhooks at start-up, and keeps the mirror current from deliveries.

const SECRET = 'whsec-0123456789abcdef0123456789abcdef';

const entraUser = (upn: string) => ({
  schemas: [USER_SCHEMA],
  userName: upn,
  active: true,
  emails: [{ primary: true, type: 'work', value: upn }],
  name: { givenName: 'Grace', familyName: 'Hopper' },
});

describe('Kit webhooks and the mirror', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  let clock = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    ({ h, server, base } = await startListeningHarness({
      env: { KIT_WEBHOOK_SECRET: SECRET },
      clock: stampClock(() => clock),
      sandbox: { webhookRetryDelaysMs: [20, 40] },
    }));
    await h.service.scim().membership.membershipIndex({ priority: 'background' });
  });
  afterAll(async () => {
    server?.close();
    await h.close();
  });

  const settle = async () => {
    await h.sandbox.webhooks.idle();
    await h.service.hints!.idle();
  };

  it('registers the four subscriber-state webhooks on a secret path, idempotently, removing its own stale ones', async () => {
    const targets = h.sandbox.store
      .listWebhooks()
      .map((w) => [w.event.name, w.targetUrl])
      .sort();
    expect(targets).toEqual(
      ['subscriber_activate', 'subscriber_bounce', 'subscriber_complain', 'subscriber_unsubscribe'].map((e) => [
        e,
        `${base}/kit/webhooks/${SECRET}/${e}`,
      ]),
    );
    h.sandbox.store.createWebhook({ name: 'subscriber.subscriber_unsubscribe' }, `${base}/kit/webhooks/old-secret/x`);
    h.sandbox.store.createWebhook({ name: 'subscriber.subscriber_unsubscribe' }, 'https://other.example/hook');
    const { result, byEndpoint } = await h.kitCalls(() => registerWebhooks(h.service.kit.webhooks!, base, SECRET));
    expect(result).toEqual({ kept: 4, created: 0, deleted: 1 });
    expect(byEndpoint).toEqual({ 'GET /v4/webhooks': 1, 'DELETE /v4/webhooks/:id': 1 });
    expect(h.sandbox.store.listWebhooks().map((w) => w.targetUrl)).toContain('https://other.example/hook');
  });

  it('an unsubscribe clicked in Kit reaches GET /Users/{id} and a delta read: one background re-read', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `click.${clock}@example.com` });
    await settle(); // subscriber_activate: the mirror learns of the new subscriber
    clock += 60_000;
    const since = new Date(clock).toISOString();
    clock += 60_000;
    const { total, byEndpoint } = await h.kitCalls(async () => {
      h.sandbox.store.setState(s.id, 'inactive');
      await settle();
    });
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });
    expect(total).toBe(1);
    const got = await h.kitCalls(() => h.get(`/scim/v2/Users/${s.id}`));
    expect(got.result.body.active).toBe(false);
    expect(got.result.body.meta.lastModified).toBe(new Date(clock).toISOString());
    expect(got.total).toBe(0);
    const delta = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`meta.lastModified gt "${since}"`)}&count=100`),
    );
    expect(delta.map((u) => [u.id, u.active])).toEqual([[String(s.id), false]]);
  });

  it('the server’s own writes come back as deliveries and cost nothing more: 1 call per create and per deprovision', async () => {
    const upn = `own.${clock}@contoso.example`;
    const create = await h.kitCalls(async () => {
      expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`), 0);
      const res = await h.post('/scim/v2/Users', entraUser(upn));
      await settle();
      return res;
    });
    expect(create.byEndpoint).toEqual({ 'POST /v4/subscribers': 1 });
    const deprov = await h.kitCalls(async () => {
      const [user] = expectListResponse(
        await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`),
        1,
      );
      const res = await h.patch(`/scim/v2/Users/${user.id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
      await settle();
      return res;
    });
    expect(deprov.result.body.active).toBe(false);
    expect(deprov.byEndpoint).toEqual({ 'POST /v4/subscribers/:id/unsubscribe': 1 });
    const delivered = h.sandbox.webhooks.log.filter(
      (d) => d.subscriberId === Number(create.result.body.id) && d.targetUrl.startsWith(base),
    );
    expect(delivered.map((d) => [d.event, d.outcome])).toEqual([
      ['subscriber_activate', 204],
      ['subscriber_unsubscribe', 204],
    ]);
    const metrics = await h.service.metrics.registry.metrics();
    expect(metrics).toMatch(/kit_webhook_deliveries_total\{outcome="known"\} [1-9]/);
  });

  it('a forged delivery is a hint only: a wrong secret is 404, a false state is checked against Kit', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `forged.${clock}@example.com` });
    await settle();
    const wrong = await request(server)
      .post(`/kit/webhooks/${SECRET.replace(/.$/, 'x')}/subscriber_unsubscribe`)
      .send({ subscriber: { id: s.id, state: 'inactive' } });
    expect(wrong.status).toBe(404);
    const { result, byEndpoint } = await h.kitCalls(async () => {
      const res = await request(server)
        .post(`/kit/webhooks/${SECRET}/subscriber_unsubscribe`)
        .send({ subscriber: { id: s.id, state: 'inactive' } });
      await settle();
      return res;
    });
    expect(result.status).toBe(204);
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(true);
    const bad = await request(server).post(`/kit/webhooks/${SECRET}/subscriber_unsubscribe`).send({ nope: 1 });
    expect(bad.status).toBe(400);
  });

  it('a delivery that fails is retried by Kit (the sandbox follows Kit’s schedule)', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `retry.${clock}@example.com` });
    await settle();
    server.close();
    server.closeAllConnections();
    h.sandbox.store.setState(s.id, 'bounced');
    await eventually(() => h.sandbox.webhooks.log.some((d) => d.subscriberId === s.id && d.attempts === 3), 100, 20);
    const record = h.sandbox.webhooks.log.find((d) => d.subscriberId === s.id && d.event === 'subscriber_bounce')!;
    await h.sandbox.webhooks.idle();
    expect(record).toMatchObject({ attempts: 3, outcome: 0 });
    // Deliveries stopped: the server still answers, and exactly (a GET reads the mirror, which the next walk
    // heals; the walk is what the MIRROR_REFRESH_MINUTES timer runs).
    await h.service.scim().tracking.mirror!.walk();
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(false);
  });
});

describe('Kit webhooks gone silent', () => {
  let h: Harness;
  let server: Server;

  beforeAll(async () => {
    ({ h, server } = await startListeningHarness({
      env: { KIT_WEBHOOK_SECRET: SECRET, WEBHOOK_SILENCE_SECONDS: '1' },
    }));
  });
  afterAll(async () => {
    server?.close();
    await h.close();
  });

  it('stops answering from the mirror when the server’s own change is not delivered, and walks again once deliveries return', async () => {
    const mirror = h.service.scim().tracking.mirror!;
    const other = h.sandbox.store.addSubscriber({ email_address: `silent.other.${unique()}@example.com` });
    const third = h.sandbox.store.addSubscriber({ email_address: `silent.third.${unique()}@example.com` });
    await mirror.walk();
    expect((await h.kitCalls(() => h.get(`/scim/v2/Users/${other.id}?excludedAttributes=groups`))).total).toBe(0);

    h.sandbox.webhooks.dropDeliveries(true);
    const upn = `silent.${unique()}@example.com`;
    expect((await h.post('/scim/v2/Users', { schemas: [USER_SCHEMA], userName: upn })).status).toBe(201);
    h.sandbox.store.setState(other.id, 'inactive'); // its delivery is lost too
    await eventually(async () => !(await mirror.complete()), 50, 100);
    // Exact, at today's cost: the mirror would still say active.
    const read = await h.kitCalls(() => h.get(`/scim/v2/Users/${other.id}?excludedAttributes=groups`));
    expect(read.result.body.active).toBe(false);
    expect(read.byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });

    h.sandbox.webhooks.dropDeliveries(false);
    h.sandbox.store.setState(third.id, 'complained'); // delivered: the webhooks are back
    await eventually(async () => mirror.complete(), 50, 100);
    expect(h.sandbox.webhooks.log.some((d) => d.subscriberId === third.id && d.outcome === 204)).toBe(true);
    const after = await h.kitCalls(() => h.get(`/scim/v2/Users/${other.id}?excludedAttributes=groups`));
    expect(after.result.body.active).toBe(false);
    expect(after.total).toBe(0);
  });
});
