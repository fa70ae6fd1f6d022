import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIT_EVENT_EXTENSION, SCIM_EVENT } from '../../src/events/securityEvent';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';
import { type PollingReceiver as Receiver, PollingReceiver } from './receiver';

// The server's own writes against Kit's webhooks, which come from a background job in Kit: before or after the
// answer to the call that caused them. Each write is recorded as an intent before Kit is called, so its delivery
// reads as the write coming back: one SET saying what the IdP did, no Kit-side reason, no re-read. And after the
// shared store loses its data, reads claim nothing they cannot know; a Kit-side change whose re-read cannot run
// is kept until it can.

const SECRET = 'whsec-ownwrites-0123456789abcdef0123456789';
const IGA_TOKEN = 'iga-ownwrites-token-0123456789abcdef0123456';
const AUDIENCE = 'https://iga.example/own-writes';
const REREAD = 'GET /v4/subscribers/:id';

interface Setup {
  h: Harness;
  server: Server;
  iga: Receiver;
}

async function start(env: Record<string, string> = {}): Promise<Setup> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const h = await startHarness({
    env: {
      PUBLIC_BASE_URL: base,
      KIT_WEBHOOK_SECRET: SECRET,
      MIRROR: 'on',
      SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@${AUDIENCE}`,
      SCIM_EVENTS_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'scim-own-writes-')), 'key.json'),
      SCIM_EVENTS_MAX_WAIT_SECONDS: '2',
      ...env,
    },
    sandbox: { webhookRetryDelaysMs: [20, 40] },
  });
  const server = await h.service.listen(port, '127.0.0.1');
  await eventually(() => h.sandbox.store.listWebhooks().length === 4);
  const mirror = h.service.scim().tracking.mirror;
  if (mirror) await eventually(() => mirror.complete());
  return { h, server, iga: new PollingReceiver(base, IGA_TOKEN, AUDIENCE) };
}

async function settle(h: Harness): Promise<void> {
  await h.sandbox.webhooks.idle();
  await h.service.hints!.idle();
  await h.service.events!.publisher.idle();
}

/** The events of each SET received for one user, in order, with their payloads. */
function payloadsOf(iga: Receiver, id: string) {
  return iga.received.filter((s) => s.sub_id.uri === `/Users/${id}`).map((s) => s.events);
}

describe.each(['beforeAnswer', 'afterAnswer'] as const)('the server’s own writes, Kit’s delivery %s', (order) => {
  let s: Setup;

  beforeAll(async () => {
    s = await start();
    s.h.sandbox.webhooks.setOrder(order);
  });
  afterAll(async () => {
    s.server?.close();
    await s.h.close();
  });

  /** Creates a user through SCIM; its create costs exactly one Kit call (the mirror answers the lookup). */
  async function provision(): Promise<string> {
    const { result, byEndpoint, total } = await s.h.kitCalls(async () => {
      const res = await s.h.post('/scim/v2/Users', oktaUser(`own.${order}.${unique()}@example.com`));
      expect(res.status).toBe(201);
      await settle(s.h);
      return res.body.id as string;
    });
    expect({ total, byEndpoint }).toEqual({ total: 1, byEndpoint: { 'POST /v4/subscribers': 1 } });
    await s.iga.drain();
    expect(payloadsOf(s.iga, result)).toEqual([{ [SCIM_EVENT.createNotice]: { attributes: [] } }]);
    return result;
  }

  it('a deactivation is one prov:deactivate without a Kit-side reason, and its delivery is not re-read', async () => {
    const id = await provision();
    const { byEndpoint } = await s.h.kitCalls(async () => {
      const res = await s.h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
      expect(res.status).toBe(200);
      await settle(s.h);
    });
    expect(byEndpoint).toEqual({ 'POST /v4/subscribers/:id/unsubscribe': 1 });
    expect(s.h.sandbox.webhooks.log.filter((d) => d.subscriberId === Number(id)).map((d) => d.outcome)).toEqual([
      204, 204,
    ]);
    await s.iga.drain();
    const events = payloadsOf(s.iga, id);
    expect(events).toEqual([{ [SCIM_EVENT.createNotice]: { attributes: [] } }, { [SCIM_EVENT.deactivate]: {} }]);
    expect(JSON.stringify(events)).not.toContain(KIT_EVENT_EXTENSION);
  });

  it('a DELETE is one prov:delete and nothing else, its unsubscribe’s delivery not re-read', async () => {
    const id = await provision();
    const { byEndpoint } = await s.h.kitCalls(async () => {
      expect((await s.h.del(`/scim/v2/Users/${id}`)).status).toBe(204);
      await settle(s.h);
    });
    expect(byEndpoint[REREAD]).toBeUndefined();
    expect(byEndpoint['POST /v4/subscribers/:id/unsubscribe']).toBe(1);
    await s.iga.drain();
    expect(payloadsOf(s.iga, id)).toEqual([
      { [SCIM_EVENT.createNotice]: { attributes: [] } },
      { [SCIM_EVENT.delete]: {} },
    ]);
  });

  it('a Kit-side unsubscribe is still reported as one, with its reason', async () => {
    const id = await provision();
    s.h.sandbox.store.setState(Number(id), 'inactive');
    await settle(s.h);
    await s.iga.drain();
    expect(payloadsOf(s.iga, id)).toEqual([
      { [SCIM_EVENT.createNotice]: { attributes: [] } },
      { [SCIM_EVENT.deactivate]: { [KIT_EVENT_EXTENSION]: { reason: 'unsubscribe', source: 'webhook' } } },
    ]);
  });
});

/** A server on its own redis-server; MIRROR as given. */
function withRedis(mirror: 'on' | 'off') {
  const ref = {} as { redis: PrivateRedis; s: Setup };
  beforeAll(async () => {
    ref.redis = await PrivateRedis.start();
    ref.s = await start({
      REDIS_URL: ref.redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '300',
      REDIS_PROBE_INTERVAL_MS: '100',
      MIRROR: mirror,
    });
  }, 60_000);
  afterAll(async () => {
    ref.s?.server.close();
    await ref.s?.h.close();
    await ref.redis?.stop();
  });
  return ref;
}

(hasRedisServer ? describe : describe.skip)('security events after the shared store loses its data', () => {
  const ref = withRedis('on');

  it('after FLUSHALL a list read announces nothing again: no deactivation, deletion or Kit-side change', async () => {
    const { redis } = ref;
    const { h, iga } = ref.s;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await h.post('/scim/v2/Users', oktaUser(`flush.${i}.${unique()}@example.com`));
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    await h.patch(`/scim/v2/Users/${ids[0]}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    await h.del(`/scim/v2/Users/${ids[1]}`).expect(204);
    h.sandbox.store.setState(Number(ids[2]), 'inactive');
    await settle(h);
    await iga.drain();
    const before = iga.received.length;
    expect(before).toBeGreaterThanOrEqual(7);

    await redis.command((r) => r.flushall());
    const list = await h.get('/scim/v2/Users?count=1');
    expect(list.status).toBe(200);
    // Every subscriber read once more, from Kit, by a filter the mirror cannot answer now.
    expect((await h.get('/scim/v2/Users?filter=active eq false')).status).toBe(200);
    for (const id of [ids[0], ids[2]]) expect((await h.get(`/scim/v2/Users/${id}`)).body.active).toBe(false);
    await settle(h);
    expect(await iga.drain()).toEqual([]);
    expect(iga.received).toHaveLength(before);
  });
});

// Without the mirror nothing walks Kit: only the kept delivery (or an IdP's read, which the test never makes) can
// report the change.
(hasRedisServer ? describe : describe.skip)('a Kit-side change whose delivery cannot be handled now', () => {
  const ref = withRedis('off');

  it('a Kit-side unsubscribe whose handling cannot run while Redis is paused is reported once it can', async () => {
    const { redis } = ref;
    const { h, iga } = ref.s;
    const res = await h.post('/scim/v2/Users', oktaUser(`paused.${unique()}@example.com`));
    expect(res.status).toBe(201);
    const id: string = res.body.id;
    await settle(h);
    await iga.drain();
    const retriesBefore = h.service.hints!.stats().retries;
    redis.pause();
    try {
      h.sandbox.store.setState(Number(id), 'inactive');
      await h.sandbox.webhooks.idle();
      // The delivery was taken (Kit will not send it again) and waits for another try.
      await eventually(() => h.service.hints!.stats().retries > retriesBefore);
    } finally {
      redis.resume();
    }
    // No IdP read of this user: only the kept delivery can report it.
    await eventually(async () => {
      // A poll while the link to Redis is recovering may fail; the receiver polls again, as a real one would.
      await iga.poll().catch(() => []);
      return payloadsOf(iga, id).length === 2;
    });
    await settle(h);
    await iga.drain();
    expect(payloadsOf(iga, id)).toEqual([
      { [SCIM_EVENT.createNotice]: { attributes: [] } },
      { [SCIM_EVENT.deactivate]: { [KIT_EVENT_EXTENSION]: { reason: 'unsubscribe', source: 'webhook' } } },
    ]);
  });
});
