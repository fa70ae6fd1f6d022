import { request } from 'node:http';
import { startKitSandbox } from '../src';
import { kitHttp, useSandbox } from './sandboxHttp';

const ctx = useSandbox();

beforeEach(() => ctx.sandbox.resetCalls());

describe('error shapes', () => {
  it('answers an unknown route or method 404 {errors:["Not Found"]} and does not count it', async () => {
    for (const res of [
      await ctx.http.get('/v4/forms'),
      await ctx.http.delete('/v4/subscribers/1'),
      await ctx.http.get('/v2/subscribers'),
    ]) {
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ errors: ['Not Found'] });
    }
    // The sandbox speaks v3 too (src/v3/): a v3 path it does not know answers in v3's error shape.
    const v3 = await ctx.http.get('/v3/forms');
    expect(v3.status).toBe(404);
    expect(v3.data).toEqual({ error: 'Not Found', message: 'Not Found' });
    expect(ctx.sandbox.calls().total).toBe(0);
  });

  it('answers malformed JSON 400 in Kit’s error shape, and counts it', async () => {
    const res = await ctx.http.post('/v4/tags', '{"name": ', { headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.data).toEqual({ errors: [expect.any(String)] });
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(ctx.sandbox.calls().byEndpoint).toEqual({ 'POST /v4/tags': 1 });
  });

  it('ignores a trailing slash like Kit’s router', async () => {
    expect((await ctx.http.get('/v4/tags/')).status).toBe(200);
  });

  it('does not report a client that hung up mid-body as a handler failure, and keeps serving', async () => {
    const reports: unknown[] = [];
    const sandbox = await startKitSandbox({ reportError: (message, error) => reports.push([message, error]) });
    try {
      const url = new URL('/v4/tags', sandbox.url);
      const req = request(url, {
        method: 'POST',
        headers: { 'x-kit-api-key': sandbox.apiKey, 'content-type': 'application/json', 'content-length': '100' },
      });
      req.on('error', () => undefined); // our own hang-up
      req.write('{"name": "half');
      // Hang up once the sandbox has the request (it counts the call when its handler is done with it).
      await new Promise<void>((resolve) => req.once('socket', (s) => s.once('connect', () => resolve())));
      await eventuallyCounted(sandbox, 1, () => req.destroy());
      expect(reports).toEqual([]);
      expect(sandbox.calls().byEndpoint).toEqual({ 'POST /v4/tags': 1 });
      expect(sandbox.store.findTagByName('half')).toBeUndefined();
      expect((await kitHttp(sandbox).get('/v4/tags')).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });
});

/** Runs `hangUp`, then waits (bounded, by attempts) until the sandbox has recorded `count` calls. */
async function eventuallyCounted(sandbox: { calls(): { total: number } }, count: number, hangUp: () => void) {
  hangUp();
  for (let attempt = 0; attempt < 500; attempt++) {
    if (sandbox.calls().total >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the sandbox recorded ${sandbox.calls().total} calls, expected ${count}`);
}
