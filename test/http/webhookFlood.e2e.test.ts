import type { Server } from 'node:http';
import request from 'supertest';
import { type Harness, oktaUser, READONLY_TOKEN, startListeningHarness } from '../support/harness';
import { JumpClock } from '../support/clock';
import { eventually } from '../support/privateRedis';
import { unique } from '../support/unique';

// Forged Kit webhook deliveries (Kit does not sign them; whoever has the receiver's URL can send any number)
// buy at most WEBHOOK_REREAD_SHARE of the Kit budget, in the limiter's lowest lane, while genuine ones still
// reach the mirror. A 120 s window (so the flood, however slowly it is posted on a busy machine, stays within
// one); the clock moves past a subscriber's hold (10 s) only when told.

const SECRET = 'whsec-flood-0123456789abcdef0123456789abcdef';
/** 10 % (the default share) of 120 calls per window. */
const CAP = 12;
const WINDOW_MS = 120_000;
/** The window over its re-reads: how long a re-read subscriber's further deliveries wait. */
const HOLD_MS = WINDOW_MS / CAP;
const GET_BY_ID = 'GET /v4/subscribers/:id';
const DROPPED = /kit_webhook_deliveries_dropped_total\{reason="(\w+)"[^}]*\} (\d+)/g;

describe('a flood of forged Kit webhook deliveries', () => {
  const clock = new JumpClock({ holdAbove: HOLD_MS - 1 });
  let h: Harness;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    ({ h, server, base } = await startListeningHarness({
      env: { KIT_WEBHOOK_SECRET: SECRET, KIT_RATE_WINDOW_MS: String(WINDOW_MS) },
      sandbox: { webhookRetryDelaysMs: [20, 40] },
      clock,
    }));
  });
  afterAll(async () => {
    server?.close();
    await h.close();
  });

  const hints = () => h.service.hints!;
  const reads = () => hints().stats().reads;
  /** Every delivery handled, moving the clock past each hold a delivery waits for (nothing is in flight then). */
  const settle = async () => {
    await h.sandbox.webhooks.idle();
    for (;;) {
      await hints().idle({ holds: false });
      if (hints().stats().held === 0) return;
      clock.jump(HOLD_MS);
    }
  };
  const dropped = async (): Promise<Record<string, number>> => {
    const text = await h.service.metrics.registry.metrics();
    return Object.fromEntries([...text.matchAll(DROPPED)].map((m) => [m[1], Number(m[2])]));
  };

  /** Posts forged unsubscribe deliveries, `concurrency` at a time; every one must be accepted (204). */
  async function forge(ids: number[], concurrency = 50): Promise<void> {
    for (let i = 0; i < ids.length; i += concurrency) {
      const answers = await Promise.all(
        ids.slice(i, i + concurrency).map((id) =>
          fetch(`${base}/kit/webhooks/${SECRET}/subscriber_unsubscribe`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ subscriber: { id, state: 'inactive', email_address: `forged.${id}@example.com` } }),
          }).then((r) => r.status),
        ),
      );
      expect(answers.every((s) => s === 204)).toBe(true);
    }
  }

  it('3,000 for distinct subscribers cost at most the re-read share; the rest are dropped, counted and shown, and an IdP request goes ahead of the re-reads', async () => {
    expect(reads()).toBe(0);
    const ids = Array.from({ length: 3000 }, (_, i) => 50_000_000 + i);
    h.sandbox.resetCalls();

    await forge(ids.slice(0, 100));
    // The share is granted: the re-reads wait in the limiter's webhook lane, one slot (1 s) apart.
    await eventually(() => reads() === CAP, 100, 20);
    const readBeforeCreate = h.sandbox.calls().byEndpoint[GET_BY_ID] ?? 0;
    const create = await h.post('/scim/v2/Users', oktaUser(`during.flood.${unique()}@example.com`));
    expect(create.status).toBe(201);
    await forge(ids.slice(100));
    await settle();

    const { byEndpoint, log } = h.sandbox.calls();
    expect(byEndpoint[GET_BY_ID]).toBe(CAP);
    expect(reads()).toBe(CAP);
    // By call order: the create's Kit call went ahead of the re-reads still queued when it was made; only the
    // one already holding the limiter's slot (and one on the wire) went first.
    const order = log.map((c) => c.endpoint).filter((e) => e === GET_BY_ID || e === 'POST /v4/subscribers');
    const createdAt = order.indexOf('POST /v4/subscribers');
    expect(readBeforeCreate).toBeLessThan(CAP - 2);
    expect(createdAt).toBeGreaterThanOrEqual(readBeforeCreate);
    expect(createdAt).toBeLessThanOrEqual(readBeforeCreate + 2);
    expect(order.length - createdAt - 1).toBeGreaterThanOrEqual(CAP - readBeforeCreate - 2);

    expect(await dropped()).toMatchObject({ over_budget: ids.length - CAP });
    expect((await dropped()).pending_full ?? 0).toBe(0);
    const login = await request(h.service.app)
      .post('/status/login')
      .set('Host', 'status.test')
      .set('Origin', 'http://status.test')
      .type('form')
      .send({ token: READONLY_TOKEN });
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? [])[0].split(';')[0];
    const page = await request(h.service.app).get('/status').set('Host', 'status.test').set('Cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`class="num webhook-drops">${ids.length - CAP} / 0</td>`);
  });

  it('a genuine delivery dropped while the share is spent is corrected by the mirror’s next walk', async () => {
    const mirror = h.service.scim().tracking.mirror!;
    const s = h.sandbox.store.addSubscriber({ email_address: `late.${unique()}@example.com` });
    await settle();
    await mirror.walk();
    const before = (await dropped()).over_budget;
    h.sandbox.store.setState(s.id, 'inactive');
    await settle();
    expect((await dropped()).over_budget).toBe(before + 1);
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(true);
    await mirror.walk();
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(false);
  });

  it('once the window has passed, a genuine unsubscribe delivered by Kit reaches the user again', async () => {
    clock.jump(WINDOW_MS);
    const s = h.sandbox.store.addSubscriber({ email_address: `genuine.${unique()}@example.com` });
    await settle();
    const { byEndpoint } = await h.kitCalls(async () => {
      h.sandbox.store.setState(s.id, 'inactive');
      await settle();
    });
    expect(byEndpoint).toEqual({ [GET_BY_ID]: 1 });
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(false);
  });

  it('500 for one subscriber cost one re-read, and one more after its hold for those that came while it was on the wire', async () => {
    const s = h.sandbox.store.addSubscriber({ email_address: `repeated.${unique()}@example.com` });
    await settle();
    const before = reads();
    const { byEndpoint } = await h.kitCalls(async () => {
      await forge(Array.from({ length: 500 }, () => s.id));
      await settle();
    });
    expect(byEndpoint[GET_BY_ID]).toBeGreaterThanOrEqual(1);
    expect(byEndpoint[GET_BY_ID]).toBeLessThanOrEqual(2);
    expect(reads() - before).toBe(byEndpoint[GET_BY_ID]);
    expect((await h.get(`/scim/v2/Users/${s.id}`)).body.active).toBe(true);
    const text = await h.service.metrics.registry.metrics();
    const joined = Number(/kit_webhook_deliveries_total\{outcome="joined"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(joined).toBe(500 - byEndpoint[GET_BY_ID]);
  });
});
