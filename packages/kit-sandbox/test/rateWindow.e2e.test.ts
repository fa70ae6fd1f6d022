import { startKitSandbox } from '../src';
import { kitHttp, manualClock } from './sandboxHttp';

describe('authentication', () => {
  it('accepts X-Kit-Api-Key and refuses a wrong key, a missing key, or the key sent as a Bearer token', async () => {
    const sandbox = await startKitSandbox();
    try {
      expect((await kitHttp(sandbox).get('/v4/account')).status).toBe(200);
      for (const headers of [
        { 'X-Kit-Api-Key': 'kit_wrong' },
        {},
        { Authorization: `Bearer ${sandbox.apiKey}` },
      ] as Array<Record<string, string>>) {
        const res = await kitHttp(sandbox, headers).get('/v4/subscribers');
        expect(res.status).toBe(401);
        expect(res.data).toEqual({ errors: ['The access token is invalid'] });
      }
      expect(sandbox.calls().byStatus['401']).toBe(3);
    } finally {
      await sandbox.close();
    }
  });

  it('generates a kit_sandbox_ key, and GET /v4/account answers Kit’s shape', async () => {
    const sandbox = await startKitSandbox();
    try {
      expect(sandbox.apiKey).toMatch(/^kit_sandbox_[0-9a-f]{32}$/);
      expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await kitHttp(sandbox).get('/v4/account');
      expect(res.data).toEqual({
        user: { email: expect.any(String) },
        account: {
          id: expect.any(Number),
          name: expect.any(String),
          plan_type: expect.any(String),
          primary_email_address: expect.any(String),
          created_at: expect.any(String),
        },
      });
    } finally {
      await sandbox.close();
    }
  });
});

describe('rolling rate window', () => {
  it('accepts max calls per window, answers the next 429 with Retry-After, and recovers after the window', async () => {
    const clock = manualClock();
    const sandbox = await startKitSandbox({ rateLimit: { max: 5, windowMs: 500 }, now: clock.now });
    try {
      const http = kitHttp(sandbox);
      for (let i = 0; i < 5; i++) {
        expect((await http.get('/v4/subscribers')).status).toBe(200);
        clock.advance(50);
      }
      const limited = await http.get('/v4/subscribers');
      expect(limited.status).toBe(429);
      expect(limited.data.errors[0]).toMatch(/^Rate limit exceeded/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(Number(limited.headers['retry-after']))).toBe(true);

      // The first call (t=0) leaves the window at t=500; at t=499 the window is still full.
      clock.set(clock.now() - 250 + 499);
      expect((await http.get('/v4/subscribers')).status).toBe(429);
      clock.advance(1);
      expect((await http.get('/v4/subscribers')).status).toBe(200);
      expect((await http.get('/v4/subscribers')).status).toBe(429);

      const stats = sandbox.calls();
      expect(stats.rateLimited).toBe(3);
      expect(stats.byStatus).toEqual({ '200': 6, '429': 3 });
    } finally {
      await sandbox.close();
    }
  });

  it('computes Retry-After from the oldest call in the window, in whole seconds', async () => {
    const clock = manualClock();
    const sandbox = await startKitSandbox({ rateLimit: { max: 2, windowMs: 60_000 }, now: clock.now });
    try {
      const http = kitHttp(sandbox);
      await http.get('/v4/account');
      clock.advance(10_000);
      await http.get('/v4/account');
      clock.advance(500);
      // Oldest call leaves at 60,000; now is 10,500: 49.5 s → 50.
      expect((await http.get('/v4/account')).headers['retry-after']).toBe('50');
      clock.advance(49_499);
      expect((await http.get('/v4/account')).headers['retry-after']).toBe('1');
    } finally {
      await sandbox.close();
    }
  });

  it('does not count rejected calls: hammering through 429s does not push recovery out', async () => {
    const clock = manualClock();
    const sandbox = await startKitSandbox({ rateLimit: { max: 3, windowMs: 1000 }, now: clock.now });
    try {
      const http = kitHttp(sandbox);
      for (let i = 0; i < 3; i++) await http.get('/v4/account');
      for (let i = 0; i < 10; i++) {
        clock.advance(90);
        expect((await http.get('/v4/account')).status).toBe(429);
      }
      clock.set(clock.now() + 100); // t = 1000: the three accepted calls have left
      for (let i = 0; i < 3; i++) expect((await http.get('/v4/account')).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('is per credential, works in real time, and setRateLimit applies at once', async () => {
    // A minute's window for the counting part, so no machine is slow enough for calls to leave it meanwhile.
    const sandbox = await startKitSandbox({
      rateLimit: { max: 2, windowMs: 60_000 },
      oauth: { clientId: 'cid', clientSecret: 'secret', accessToken: 'at-1', refreshToken: 'rt-1' },
    });
    try {
      const key = kitHttp(sandbox);
      const bearer = kitHttp(sandbox, { Authorization: 'Bearer at-1' });
      expect((await key.get('/v4/tags')).status).toBe(200);
      expect((await key.get('/v4/tags')).status).toBe(200);
      expect((await key.get('/v4/tags')).status).toBe(429);
      expect((await bearer.get('/v4/tags')).status).toBe(200);

      sandbox.setRateLimit({ max: 100, windowMs: 60_000 });
      expect((await key.get('/v4/tags')).status).toBe(200);
      expect(() => sandbox.setRateLimit({ max: 0, windowMs: 10 })).toThrow();

      // Real time (no clock injected): with one call per 200 ms, a refused credential is let in again by the
      // passing of time alone. Calls until a 429 is followed by a 200, a bounded number of times (~10 s).
      sandbox.setRateLimit({ max: 1, windowMs: 200 });
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 500; attempt++) {
        statuses.push((await key.get('/v4/tags')).status);
        if (statuses.lastIndexOf(200) > statuses.indexOf(429) && statuses.includes(429)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(statuses.includes(429) && statuses.lastIndexOf(200) > statuses.indexOf(429)).toBe(true);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    } finally {
      await sandbox.close();
    }
  });
});
