import axios from 'axios';
import { adminHttp, kitHttp, useSandbox } from './sandboxHttp';

const ctx = useSandbox({
  oauth: { clientId: 'c', clientSecret: 's', accessToken: 'admin-at', refreshToken: 'admin-rt' },
});

describe('admin routes under /__sandbox', () => {
  it('require X-Sandbox-Admin with the API key', async () => {
    for (const headers of [{}, { 'X-Sandbox-Admin': 'wrong' }, { 'X-Kit-Api-Key': ctx.sandbox.apiKey }]) {
      const res = await axios.get(`${ctx.sandbox.url}/__sandbox/calls`, {
        headers,
        validateStatus: () => true,
        proxy: false,
      });
      expect(res.status).toBe(401);
      expect(res.data.errors).toHaveLength(1);
    }
    expect((await adminHttp(ctx.sandbox).get('/calls')).status).toBe(200);
    expect((await adminHttp(ctx.sandbox).get('/nope')).status).toBe(404);
  });

  it('seed 100,000 subscribers over 50 tags in one call, without counting or limiting it', async () => {
    const admin = adminHttp(ctx.sandbox);
    ctx.sandbox.setRateLimit({ max: 1, windowMs: 60_000 });
    const res = await admin.post('/seed', { reset: true, subscribers: 100_000, tags: 50, customFields: ['Last name'] });
    expect(res.status).toBe(201);
    expect(res.data.subscribers).toEqual({ count: 100_000, firstId: 1, lastId: 100_000 });
    expect(res.data.tags).toHaveLength(50);
    expect(res.data.tags.every((t: { tagged: number }) => t.tagged === 2_000)).toBe(true);
    expect(res.data.taggings).toBe(100_000);
    expect(ctx.sandbox.store.counts()).toMatchObject({ subscribers: 100_000, tags: 50, taggings: 100_000 });
    expect(ctx.sandbox.calls().total).toBe(0);

    const state = await admin.get('/state');
    expect(state.data.counts.subscribers).toBe(100_000);
  });

  it('seeds with options: tagEvery, tagsPerSubscriber, named tags, subscriber options', async () => {
    const res = await adminHttp(ctx.sandbox).post('/seed', {
      reset: true,
      subscribers: { count: 10, emailPrefix: 'emp', domain: 'corp.test', state: 'inactive', firstNamePrefix: 'E' },
      tags: ['Red', 'Blue'],
      tagEvery: 2,
      tagsPerSubscriber: 2,
    });
    expect(res.status).toBe(201);
    expect(res.data.tags.map((t: { name: string; tagged: number }) => [t.name, t.tagged])).toEqual([
      ['Red', 5],
      ['Blue', 5],
    ]);
    expect(ctx.sandbox.store.getSubscriber(3)).toMatchObject({
      email_address: 'emp3@corp.test',
      first_name: 'E3',
      state: 'inactive',
    });
    expect(ctx.sandbox.store.tagsOfSubscriber(2)).toEqual([]);
    expect((await adminHttp(ctx.sandbox).post('/seed', { subscribers: -1 })).status).toBe(422);
  });

  it('manage calls, faults, rate limit, reset and tokens', async () => {
    const admin = adminHttp(ctx.sandbox);
    const kit = kitHttp(ctx.sandbox);
    expect((await admin.put('/rate-limit', { max: 1000, windowMs: 1000 })).data).toEqual({ max: 1000, windowMs: 1000 });
    expect((await admin.put('/rate-limit', { max: 0 })).status).toBe(400);

    expect((await admin.delete('/calls')).status).toBe(204);
    expect((await admin.put('/faults', { failNext: 1, failStatus: 429 })).data).toMatchObject({
      failNext: 1,
      failStatus: 429,
    });
    const injected = await kit.get('/v4/account');
    expect(injected.status).toBe(429);
    expect(injected.headers['retry-after']).toBe('1');
    expect((await admin.put('/faults', { errorRate: 7 })).status).toBe(400);
    expect((await admin.delete('/faults')).status).toBe(204);
    expect((await kit.get('/v4/account')).status).toBe(200);
    const calls = await admin.get('/calls');
    expect(calls.data).toMatchObject({ total: 2, byStatus: { '429': 1, '200': 1 }, rateLimited: 1 });

    ctx.sandbox.store.addSubscriber({ email_address: 'gone-on-reset@example.com' });
    expect((await admin.post('/reset')).status).toBe(204);
    expect(ctx.sandbox.store.counts().subscribers).toBe(0);

    const bearer = kitHttp(ctx.sandbox, { Authorization: `Bearer ${ctx.sandbox.oauthTokens()!.accessToken}` });
    expect((await bearer.get('/v4/account')).status).toBe(200);
    expect((await admin.post('/expire-tokens')).status).toBe(204);
    expect((await bearer.get('/v4/account')).status).toBe(401);
    expect((await admin.get('/oauth-tokens')).data).toEqual(ctx.sandbox.oauthTokens());
  });
});
