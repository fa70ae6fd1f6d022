import { startKitSandbox } from '../src';
import { kitHttp, useSandbox } from './sandboxHttp';

const ctx = useSandbox();

afterEach(() => {
  ctx.sandbox.resetFaults();
  ctx.sandbox.resetCalls();
});

describe('injected faults', () => {
  it('failNext answers exactly the next N calls with failStatus, then recovers', async () => {
    ctx.sandbox.setFaults({ failNext: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await ctx.http.get('/v4/account')).status);
    expect(statuses).toEqual([500, 500, 200, 200]);

    ctx.sandbox.setFaults({ failNext: 1, failStatus: 503 });
    const unavailable = await ctx.http.get('/v4/account');
    expect(unavailable.status).toBe(503);
    expect(unavailable.data).toEqual({ errors: [expect.any(String)] });
    expect(unavailable.headers['retry-after']).toBe('1');

    ctx.sandbox.setFaults({ failNext: 1, failStatus: 413 });
    const full = await ctx.http.post('/v4/bulk/tags', { tags: [{ name: 'x' }] });
    expect(full.status).toBe(413);
    expect(full.data.errors[0]).toMatch(/queued bulk requests limit/);
    expect(ctx.sandbox.store.findTagByName('x')).toBeUndefined();
  });

  it('answers 500 with Kit’s body by default', async () => {
    ctx.sandbox.setFaults({ failNext: 1 });
    const res = await ctx.http.get('/v4/tags');
    expect(res.data).toEqual({ errors: ['Internal server error'] });
    expect(ctx.sandbox.calls().byStatus).toEqual({ '500': 1 });
  });

  it('applies only to the listed route patterns', async () => {
    const s = ctx.sandbox.store.addSubscriber({ email_address: 'endpoint-scoped@example.com' });
    ctx.sandbox.setFaults({ failNext: 1, endpoints: ['GET /v4/subscribers/:id'] });
    expect((await ctx.http.get('/v4/subscribers')).status).toBe(200);
    expect((await ctx.http.get('/v4/account')).status).toBe(200);
    expect((await ctx.http.get(`/v4/subscribers/${s.id}`)).status).toBe(500);
    expect((await ctx.http.get(`/v4/subscribers/${s.id}`)).status).toBe(200);
  });

  it('malformedNext applies the next N calls and answers them 200 with a body Kit never sends', async () => {
    ctx.sandbox.setFaults({ malformedNext: 1, endpoints: ['POST /v4/tags'] });
    const res = await ctx.http.post('/v4/tags', { name: 'malformed-answer' });
    expect(res.status).toBe(200);
    expect(res.data).not.toHaveProperty('tag');
    expect(ctx.sandbox.store.findTagByName('malformed-answer')).toBeDefined();
    const again = await ctx.http.post('/v4/tags', { name: 'well-formed-answer' });
    expect(again.status).toBe(201);
    expect(again.data.tag).toMatchObject({ name: 'well-formed-answer' });
  });

  it('dropRate destroys the socket without an answer (socket hang up), and counts the call with status 0', async () => {
    ctx.sandbox.setFaults({ dropRate: 1 });
    await expect(ctx.http.get('/v4/account')).rejects.toMatchObject({ code: 'ECONNRESET' });
    ctx.sandbox.resetFaults();
    expect((await ctx.http.get('/v4/account')).status).toBe(200);
    const stats = ctx.sandbox.calls();
    expect(stats.byStatus).toEqual({ '0': 1, '200': 1 });
  });

  it('adds latency before answering', async () => {
    // The sandbox waits through an injected sleep that this test releases: the answer must not arrive before
    // it, and the wait asked for must be the configured latency. No stopwatch, so a slow machine cannot fail it.
    const waits: number[] = [];
    let slept!: () => void;
    const sleeping = new Promise<'sleeping'>((resolve) => {
      slept = () => resolve('sleeping');
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sandbox = await startKitSandbox({
      sleep: (ms) => {
        waits.push(ms);
        slept();
        return released;
      },
    });
    try {
      sandbox.setFaults({ latencyMs: 150 });
      const answer = kitHttp(sandbox).get('/v4/account');
      expect(await Promise.race([sleeping, answer.then(() => 'answered')])).toBe('sleeping');
      expect(waits).toEqual([150]);
      release();
      expect((await answer).status).toBe(200);
      expect(sandbox.calls().byStatus).toEqual({ '200': 1 });
    } finally {
      release();
      await sandbox.close();
    }
  });

  it('errorRate with a seed is reproducible', async () => {
    const run = async () => {
      ctx.sandbox.setFaults({ errorRate: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 16; i++) out.push((await ctx.http.get('/v4/account')).status);
      return out;
    };
    const first = await run();
    const second = await run();
    expect(first).toEqual(second);
    expect(first).toContain(500);
    expect(first).toContain(200);
  });

  it('setFaults merges, setFaults({}) keeps, resetFaults clears', () => {
    ctx.sandbox.setFaults({ latencyMs: 10 });
    ctx.sandbox.setFaults({ failNext: 3 });
    ctx.sandbox.setFaults({});
    expect(ctx.sandbox.faults()).toMatchObject({ latencyMs: 10, failNext: 3, failStatus: 500 });
    ctx.sandbox.resetFaults();
    expect(ctx.sandbox.faults()).toMatchObject({ latencyMs: 0, failNext: 0, errorRate: 0, dropRate: 0 });
    expect(() => ctx.sandbox.setFaults({ errorRate: 2 })).toThrow();
  });
});

describe('call counters', () => {
  it('counts by route pattern and status, and logs arrival time and a non-secret credential label', async () => {
    let t = 5_000;
    const sandbox = await startKitSandbox({ now: () => t, rateLimit: { max: 3, windowMs: 60_000 } });
    try {
      const http = kitHttp(sandbox);
      const tag = sandbox.store.createTag('Counted');
      const s = sandbox.store.addSubscriber({ email_address: 'counted@example.com' });
      await http.get(`/v4/subscribers/${s.id}`);
      t = 6_000;
      await http.post(`/v4/tags/${tag.id}/subscribers/${s.id}`);
      await http.get(`/v4/tags/${tag.id}/subscribers`);
      await http.get(`/v4/subscribers/${s.id}`); // 429
      await kitHttp(sandbox, { 'X-Kit-Api-Key': 'nope' }).get('/v4/subscribers/1');
      await http.get('/v4/not-a-route');

      const stats = sandbox.calls();
      expect(stats.total).toBe(5);
      expect(stats.byEndpoint).toEqual({
        'GET /v4/subscribers/:id': 3,
        'POST /v4/tags/:tag_id/subscribers/:id': 1,
        'GET /v4/tags/:tag_id/subscribers': 1,
      });
      expect(stats.byStatus).toEqual({ '200': 2, '201': 1, '429': 1, '401': 1 });
      expect(stats.rateLimited).toBe(1);
      expect(stats.log.map((c) => [c.at, c.endpoint, c.status])).toEqual([
        [5_000, 'GET /v4/subscribers/:id', 200],
        [6_000, 'POST /v4/tags/:tag_id/subscribers/:id', 201],
        [6_000, 'GET /v4/tags/:tag_id/subscribers', 200],
        [6_000, 'GET /v4/subscribers/:id', 429],
        [6_000, 'GET /v4/subscribers/:id', 401],
      ]);
      const label = stats.log[0].credential;
      expect(label).toMatch(/^key:[0-9a-f]{6}$/);
      expect(stats.log[4].credential).not.toBe(label);
      expect(JSON.stringify(stats)).not.toContain(sandbox.apiKey);

      sandbox.resetCalls();
      expect(sandbox.calls()).toEqual({ total: 0, byEndpoint: {}, byStatus: {}, rateLimited: 0, log: [] });
    } finally {
      await sandbox.close();
    }
  });
});
