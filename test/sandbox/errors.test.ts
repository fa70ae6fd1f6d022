import { useSandbox } from './sandboxHttp';

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
    // The sandbox speaks v3 too (src/sandbox/v3/): a v3 path it does not know answers in v3's error shape.
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
});
