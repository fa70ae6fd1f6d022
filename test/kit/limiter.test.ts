import { KitRateLimitedError, KitUnavailableError } from '../../src/kit/errors';
import { createKitLimiter, type KitLimiter, limiterIdFor } from '../../src/kit/limiter';
import { maxInWindow } from '../../src/kit/spacing';

// The limiter on its own (no HTTP): ordering, waiting, withdrawing and stopping, at short windows.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const limiters: KitLimiter[] = [];
function limiter(budget: number, windowMs: number, safetyMs = 0) {
  const l = createKitLimiter({ id: `unit-${process.pid}-${++seq}`, budget, windowMs, safetyMs });
  limiters.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.stop()));
});

describe('limiterIdFor', () => {
  it('is stable per credential and never contains it', () => {
    const a = limiterIdFor('https://api.convertkit.com', { kind: 'apiKey', apiKey: 'kit_secret_abc' });
    expect(a).toBe(limiterIdFor('https://api.convertkit.com/', { kind: 'apiKey', apiKey: 'kit_secret_abc' }));
    expect(a).not.toContain('kit_secret_abc');
    expect(a).not.toBe(limiterIdFor('https://api.convertkit.com', { kind: 'apiKey', apiKey: 'kit_secret_abd' }));
    const oauth = (accessToken: string) =>
      limiterIdFor('https://api.convertkit.com', { kind: 'oauth', clientId: 'app-1', accessToken, refreshToken: 'r' });
    // OAuth tokens rotate; the limiter (and Kit's budget) stays the same.
    expect(oauth('token-1')).toBe(oauth('token-2'));
  });
});

describe('spacing', () => {
  it('starts calls no closer than the spacing, so a burst stays within budget per window', async () => {
    const l = limiter(5, 500, 25); // 105 ms apart
    expect(l.spacingMs).toBe(105);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 11 }, () => l.schedule(async () => void starts.push(Date.now()))));
    starts.sort((a, b) => a - b);
    // Booked slots are exactly 105 ms apart; a timer firing late can only shorten one gap by its lateness.
    expect(starts[starts.length - 1] - starts[0]).toBeGreaterThanOrEqual(10 * 105 - 5);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(105 - 25);
    expect(maxInWindow(starts, 500)).toBeLessThanOrEqual(5);
  });
});

describe('priorities', () => {
  it('serves interactive calls before queued background work, and retries before both', async () => {
    const l = limiter(100, 2000); // 20 ms apart
    const order: string[] = [];
    const job = (name: string) => async () => void order.push(name);
    const all = [...Array.from({ length: 6 }, (_, i) => l.schedule(job(`bg${i}`), { priority: 'background' }))];
    await sleep(5); // bg0 is on its way, bg1 booked
    all.push(l.schedule(job('int0'), { priority: 'interactive' }));
    all.push(l.schedule(job('int1'), { priority: 'interactive' }));
    all.push(l.schedule(job('retry0'), { priority: 'retry' }));
    await Promise.all(all);
    expect(order.indexOf('retry0')).toBeLessThan(order.indexOf('int0'));
    expect(order.indexOf('int0')).toBeLessThan(order.indexOf('int1'));
    // At most the one background call already booked (lookahead 1) runs before them.
    expect(order.indexOf('int1')).toBeLessThan(order.indexOf('bg3'));
    expect(order.filter((n) => n.startsWith('bg'))).toEqual(['bg0', 'bg1', 'bg2', 'bg3', 'bg4', 'bg5']);
  });
});

describe('maxWaitMs', () => {
  it('rejects with KitRateLimitedError and a Retry-After, and the call never runs', async () => {
    const l = limiter(2, 1000); // 500 ms apart
    const ran: string[] = [];
    const first = l.schedule(async () => void ran.push('a'));
    const second = l.schedule(async () => void ran.push('b'));
    // Fits the optimistic estimate, misses in practice: withdrawn by its timer.
    const third = l.schedule(async () => void ran.push('c'), { maxWaitMs: 200 });
    await expect(third).rejects.toBeInstanceOf(KitRateLimitedError);
    await expect(third).rejects.toMatchObject({ retryAfterMs: expect.any(Number) });
    await Promise.all([first, second]);
    await sleep(600);
    expect(ran).toEqual(['a', 'b']);
    expect(l.counts()).toMatchObject({ queued: 0, committed: 0, running: 0 });
  });

  it('fails fast when the queue ahead already outlasts the wait', async () => {
    const l = limiter(2, 1000);
    const queued = Array.from({ length: 4 }, () => l.schedule(async () => {}, { priority: 'background' }));
    const started = Date.now();
    const err = await l.schedule(async () => {}, { priority: 'background', maxWaitMs: 300 }).catch((e) => e);
    // Failing fast means not sitting out the 300 ms maxWaitMs first.
    expect(Date.now() - started).toBeLessThan(300);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1500);
    await l.stop();
    await Promise.allSettled(queued);
  });

  it('also withdraws a call already booked in Bottleneck', async () => {
    const l = limiter(1, 1000); // 1 s apart
    const ran: string[] = [];
    await l.schedule(async () => void ran.push('a'));
    // Booked immediately (nothing queued ahead) for a slot ~1 s away.
    const late = l.schedule(async () => void ran.push('b'), { maxWaitMs: 100 });
    expect(l.counts().committed).toBe(1);
    await expect(late).rejects.toBeInstanceOf(KitRateLimitedError);
    await sleep(1000);
    expect(ran).toEqual(['a']);
  });
});

describe('pauseFor', () => {
  it('holds every queued call until the pause ends', async () => {
    const l = limiter(100, 1000);
    await l.schedule(async () => {});
    const paused = Date.now();
    l.pauseFor(300);
    expect(l.counts().pausedForMs).toBeGreaterThan(250);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 3 }, () => l.schedule(async () => void starts.push(Date.now()))));
    expect(Math.min(...starts) - paused).toBeGreaterThanOrEqual(295);
  });
});

describe('stop', () => {
  it('rejects queued calls with a retryable KitUnavailableError and lets the running one finish', async () => {
    const l = limiter(2, 1000);
    let finished = false;
    const running = l.schedule(async () => {
      await sleep(150);
      finished = true;
      return 'done';
    });
    const queued = Array.from({ length: 3 }, () => l.schedule(async () => 'never'));
    await sleep(20);
    const stopped = l.stop();
    for (const q of queued) {
      const e = await q.catch((x) => x);
      expect(e).toBeInstanceOf(KitUnavailableError);
      expect(e.retryAfterMs).toBeGreaterThan(0);
    }
    await stopped;
    expect(finished).toBe(true);
    await expect(running).resolves.toBe('done');
    await expect(l.schedule(async () => 'late')).rejects.toBeInstanceOf(KitUnavailableError);
  });
});

describe('abort signal', () => {
  it('withdraws a queued call when the caller aborts', async () => {
    const l = limiter(1, 1000);
    const ran: string[] = [];
    await l.schedule(async () => void ran.push('a'));
    const ac = new AbortController();
    const p = l.schedule(async () => void ran.push('b'), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(KitUnavailableError);
    await sleep(1050);
    expect(ran).toEqual(['a']);
  });
});

describe('Redis unreachable', () => {
  it('fails calls with KitUnavailableError instead of hanging, and sends nothing', async () => {
    const errors: unknown[] = [];
    const l = createKitLimiter({
      id: `unit-dead-redis-${process.pid}`,
      budget: 10,
      windowMs: 1000,
      redisUrl: 'redis://127.0.0.1:1',
      redisReadyTimeoutMs: 300,
      onError: (e) => errors.push(e),
    });
    limiters.push(l);
    let ran = false;
    const started = Date.now();
    const err = await l
      .schedule(async () => {
        ran = true;
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    // Not hanging until the call's maxWaitMs: the Redis ready timeout (300 ms) decides.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ran).toBe(false);
  });
});
