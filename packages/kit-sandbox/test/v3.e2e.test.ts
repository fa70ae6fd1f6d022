import axios from 'axios';
import { startKitSandbox, type KitSandbox } from '../src';
import { manualClock } from './sandboxHttp';

// The sandbox's Kit v3 routes: auth by parameter, Kit v3's error shape, page numbers of 50, the same account
// as v4 (kit-api-v3-legacy.txt; the package README, "v3").

describe('Sandbox: Kit v3', () => {
  let sb: KitSandbox;
  const clock = manualClock();
  const http = () => axios.create({ baseURL: sb.url, validateStatus: () => true, proxy: false });
  beforeAll(async () => {
    sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 60_000 }, now: clock.now });
  });
  afterAll(() => sb.close());

  it('authenticates by api_secret in the query or the body, never a header, and answers {error, message}', async () => {
    const ok = await http().get('/v3/account', { params: { api_secret: sb.apiSecret } });
    expect(ok.status).toBe(200);
    expect(ok.data.name).toBe('Kit Sandbox');
    const header = await http().get('/v3/account', { headers: { 'X-Kit-Api-Key': sb.apiKey } });
    expect(header.status).toBe(401);
    expect(header.data).toEqual({ error: 'Authorization Failed', message: 'API Key not present' });
    const wrong = await http().get('/v3/account', { params: { api_secret: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.data.error).toBe('Authorization Failed');
    const inBody = await http().post('/v3/tags', { api_secret: sb.apiSecret, tag: { name: 'v3 body auth' } });
    expect(inBody.status).toBe(201);
    expect(inBody.data.name).toBe('v3 body auth');
    // The call log names the credential by a hash label, never the secret.
    expect(JSON.stringify(sb.calls().log)).not.toContain(sb.apiSecret);
  });

  it('takes the api_key for the few reads v3 allows it, and not for subscriber data', async () => {
    expect((await http().get('/v3/tags', { params: { api_key: sb.apiKey } })).status).toBe(200);
    expect((await http().get('/v3/subscribers', { params: { api_key: sb.apiKey } })).status).toBe(401);
  });

  it('pages by number, 50 at a time, active subscribers first list, unsubscribed through sort_field=cancelled_at', async () => {
    const ids = sb.store.seedSubscribers(120, { emailPrefix: 'v3page-' }).ids;
    sb.store.setState(ids[0], 'inactive');
    const p = (extra: Record<string, unknown>) =>
      http().get('/v3/subscribers', { params: { api_secret: sb.apiSecret, ...extra } });
    const first = await p({});
    expect(first.data).toMatchObject({ total_subscribers: 119, page: 1, total_pages: 3 });
    expect(first.data.subscribers).toHaveLength(50);
    expect(first.data.subscribers[0].id).toBe(ids[1]);
    const last = await p({ page: 3, per_page: 1000 });
    expect(last.data.subscribers).toHaveLength(19);
    const cancelled = await p({ sort_field: 'cancelled_at' });
    expect(cancelled.data.subscribers.map((s: any) => s.id)).toEqual([ids[0]]);
    const email = (id: number) => sb.store.getSubscriber(id)!.email_address;
    const byEmail = await p({ email_address: email(ids[2]).toUpperCase() });
    expect(byEmail.data.subscribers.map((s: any) => s.id)).toEqual([ids[2]]);
    // An unsubscribed email is only found among the unsubscribed.
    expect((await p({ email_address: email(ids[0]) })).data.total_subscribers).toBe(0);
    expect((await p({ email_address: email(ids[0]), sort_field: 'cancelled_at' })).data.total_subscribers).toBe(1);
  });

  it('creates by subscribing an email to a tag, re-subscribing an unsubscribed email (the trap clients avoid)', async () => {
    const tag = sb.store.createTag('v3 subscribe');
    const a = await http().post(`/v3/tags/${tag.id}/subscribe`, {
      api_secret: sb.apiSecret,
      email: 'New.Person@example.com',
      first_name: 'New',
    });
    expect(a.status).toBe(200);
    const id = a.data.subscription.subscriber.id;
    expect(sb.store.getSubscriber(id)).toMatchObject({ email_address: 'new.person@example.com', state: 'active' });
    sb.store.setState(id, 'inactive');
    await http().post(`/v3/tags/${tag.id}/subscribe`, { api_secret: sb.apiSecret, email: 'new.person@example.com' });
    expect(sb.store.getSubscriber(id)!.state).toBe('active');
  });

  it('untags by id (404 when not tagged), unsubscribes by email, cannot rename a tag', async () => {
    const tag = sb.store.createTag('v3 untag');
    const s = sb.store.addSubscriber({ email_address: 'untag.v3@example.com' });
    sb.store.tagSubscriber(tag.id, s.id);
    const del = () => http().delete(`/v3/subscribers/${s.id}/tags/${tag.id}`, { params: { api_secret: sb.apiSecret } });
    expect((await del()).status).toBe(200);
    const again = await del();
    expect(again.status).toBe(404);
    expect(again.data).toEqual({ error: 'Not Found', message: 'Not Found' });
    const un = await http().put('/v3/unsubscribe', { api_secret: sb.apiSecret, email: 'untag.v3@example.com' });
    expect(un.data.subscriber.state).toBe('inactive');
    expect((await http().put(`/v3/tags/${tag.id}`, { api_secret: sb.apiSecret, name: 'x' })).status).toBe(404);
  });

  it('answers an update with 11 or more fields 202 and applies it later (by the sandbox clock)', async () => {
    const sub = sb.store.addSubscriber({ email_address: 'later.v3@example.com' });
    const labels = Array.from({ length: 11 }, (_, i) => `v3 later ${i}`);
    const fields = Object.fromEntries(labels.map((l) => [sb.store.createCustomField(l).key, 'x']));
    const slow = await startKitSandbox({ now: clock.now, v3UpdateDelayMs: 5_000 });
    try {
      const s2 = slow.store.addSubscriber({ email_address: 'later.v3@example.com' });
      for (const l of labels) slow.store.createCustomField(l);
      const put = await axios.put(
        `${slow.url}/v3/subscribers/${s2.id}`,
        { api_secret: slow.apiSecret, fields },
        { validateStatus: () => true },
      );
      expect(put.status).toBe(202);
      const read = () => axios.get(`${slow.url}/v3/subscribers/${s2.id}`, { params: { api_secret: slow.apiSecret } });
      expect(Object.values((await read()).data.subscriber.fields)).not.toContain('x');
      clock.advance(5_000);
      expect(Object.values((await read()).data.subscriber.fields).filter((v) => v === 'x')).toHaveLength(11);
    } finally {
      await slow.close();
    }
    const ten = await http().put(`/v3/subscribers/${sub.id}`, {
      api_secret: sb.apiSecret,
      fields: Object.fromEntries(
        Object.keys(fields)
          .slice(0, 10)
          .map((k) => [k, 'y']),
      ),
    });
    expect(ten.status).toBe(200);
  });

  it('meters v3 calls per key like v4, with Kit v3 error bodies', async () => {
    const tight = await startKitSandbox({ rateLimit: { max: 2, windowMs: 60_000 }, now: clock.now });
    try {
      const get = () =>
        axios.get(`${tight.url}/v3/tags`, { params: { api_secret: tight.apiSecret }, validateStatus: () => true });
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(200);
      const limited = await get();
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBeDefined();
      expect(limited.data.error).toBe('Too Many Requests');
      // v4's key has its own window.
      const v4 = await axios.get(`${tight.url}/v4/tags`, {
        headers: { 'X-Kit-Api-Key': tight.apiKey },
        validateStatus: () => true,
      });
      expect(v4.status).toBe(200);
    } finally {
      await tight.close();
    }
  });
});
