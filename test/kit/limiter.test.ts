import { KitLimiterUnavailableError, KitRateLimitedError, KitUnavailableError } from '../../src/kit/errors';
import { createKitLimiter, type KitLimiter, type KitLimiterOptions, limiterIdFor } from '../../src/kit/limiter';
import { LocalSlotBook } from '../../src/kit/slots';
import { maxInWindow } from '../../src/kit/spacing';
import { ManualClock } from '../support/clock';

// The limiter on its own, on a test clock: every assertion is about booked slot times, counts and order.

let clock: ManualClock;
let seq = 0;
const limiters: KitLimiter[] = [];
function limiter(budget: number, windowMs: number, safetyMs = 0, extra: Partial<KitLimiterOptions> = {}) {
  const l = createKitLimiter({ id: `unit-${++seq}`, budget, windowMs, safetyMs, clock, ...extra });
  limiters.push(l);
  return l;
}
beforeEach(() => {
  clock = new ManualClock();
});
afterEach(async () => {
  const stopping = Promise.all(limiters.splice(0).map((l) => l.stop()));
  await clock.runAll();
  await stopping;
});

/** Schedules `n` calls that record the clock when they start. */
function burst(l: KitLimiter, n: number, starts: number[], opts = {}) {
  return Array.from({ length: n }, () => l.schedule(async () => void starts.push(clock.now()), opts));
}

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
  it('books slots exactly one spacing apart, so a burst stays within budget per window', async () => {
    const l = limiter(5, 500, 25); // 105 ms apart
    expect(l.spacingMs).toBe(105);
    const t0 = clock.now();
    const starts: number[] = [];
    const all = Promise.all(burst(l, 11, starts));
    await clock.runAll();
    await all;
    expect(starts.map((s) => s - t0)).toEqual(Array.from({ length: 11 }, (_, i) => i * 105));
    expect(maxInWindow(starts, 500)).toBe(5);
  });

  it('an idle limiter starts the next call at once', async () => {
    const l = limiter(5, 500, 25);
    const starts: number[] = [];
    const first = burst(l, 1, starts);
    await clock.runAll();
    await Promise.all(first);
    await clock.advance(10_000);
    const second = burst(l, 1, starts);
    await clock.advance(0);
    await Promise.all(second);
    expect(starts[1] - starts[0]).toBe(10_000);
  });
});

describe('the injected clock', () => {
  // Admission and waiting both run on the limiter's clock alone: a test clock moves every call, with no real
  // timer turn in between, so the other tests here can assert exact slot times in no time.
  it('starts each call when the clock reaches its slot, with no real time passing', async () => {
    const l = limiter(10, 1000); // 100 ms apart
    const starts: number[] = [];
    const t0 = clock.now();
    const all = burst(l, 3, starts);
    await clock.advance(0);
    expect(starts.map((s) => s - t0)).toEqual([0]);
    await clock.advance(100);
    expect(starts.map((s) => s - t0)).toEqual([0, 100]);
    await clock.advance(100);
    expect(starts.map((s) => s - t0)).toEqual([0, 100, 200]);
    await Promise.all(all);
  });
});

describe('priorities', () => {
  it('serves interactive calls before queued background work, and retries before both', async () => {
    const l = limiter(100, 2000); // 20 ms apart
    const order: string[] = [];
    const job = (name: string) => async () => void order.push(name);
    const all = Array.from({ length: 6 }, (_, i) => l.schedule(job(`bg${i}`), { priority: 'background' }));
    await clock.advance(5); // bg0 ran at once, bg1 holds the next slot
    all.push(l.schedule(job('int0'), { priority: 'interactive' }));
    all.push(l.schedule(job('int1'), { priority: 'interactive' }));
    all.push(l.schedule(job('retry0'), { priority: 'retry' }));
    await clock.runAll();
    await Promise.all(all);
    expect(order).toEqual(['bg0', 'bg1', 'retry0', 'int0', 'int1', 'bg2', 'bg3', 'bg4', 'bg5']);
  });

  it('serves webhook re-reads last: a mirror walk page or an IdP call queued after them goes first', async () => {
    const l = limiter(100, 2000); // 20 ms apart
    const order: string[] = [];
    const job = (name: string) => async () => void order.push(name);
    const all = Array.from({ length: 5 }, (_, i) => l.schedule(job(`hook${i}`), { priority: 'webhook' }));
    await clock.advance(5); // hook0 ran at once, hook1 holds the next slot
    all.push(l.schedule(job('walk0'), { priority: 'background' }));
    all.push(l.schedule(job('int0'), { priority: 'interactive' }));
    expect(l.counts().byPriority).toEqual({ retry: 0, interactive: 1, background: 1, webhook: 3 });
    await clock.runAll();
    await Promise.all(all);
    expect(order).toEqual(['hook0', 'hook1', 'int0', 'walk0', 'hook2', 'hook3', 'hook4']);
  });
});

describe('maxWaitMs', () => {
  it('withdraws a queued call at its deadline with a Retry-After; it never runs', async () => {
    const l = limiter(2, 1000); // 500 ms apart
    const ran: string[] = [];
    const first = l.schedule(async () => void ran.push('a'));
    const second = l.schedule(async () => void ran.push('b'));
    // Fits the optimistic estimate (one slot ahead = 500 ms > 200 ms? no: a runs now, b holds 500 ms) → queued.
    const third = l.schedule(async () => void ran.push('c'), { maxWaitMs: 600 });
    const outcome = third.catch((e) => e);
    await clock.advance(600);
    const err = await outcome;
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBe(500);
    await clock.runAll();
    await Promise.all([first, second]);
    expect(ran).toEqual(['a', 'b']);
    expect(l.counts()).toMatchObject({ queued: 0, committed: 0, running: 0 });
  });

  it('fails fast, before any time passes, when the queue ahead already outlasts the wait', async () => {
    const l = limiter(2, 1000);
    const queued = Array.from({ length: 4 }, () =>
      l.schedule(async () => {}, { priority: 'background' }).catch((e) => e),
    );
    const before = clock.now();
    const err = await l.schedule(async () => {}, { priority: 'background', maxWaitMs: 300 }).catch((e) => e);
    expect(clock.now()).toBe(before);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1500);
    const stopped = l.stop();
    await clock.runAll();
    await stopped;
    expect((await Promise.all(queued)).filter((e) => e instanceof KitUnavailableError)).toHaveLength(4);
  });

  it('also withdraws a call that already holds a booked slot; the slot goes unused', async () => {
    const l = limiter(1, 1000); // 1 s apart
    const ran: string[] = [];
    const a = l.schedule(async () => void ran.push('a'));
    await clock.advance(0);
    await a;
    const late = l.schedule(async () => void ran.push('b'), { maxWaitMs: 100 }).catch((e) => e);
    await clock.advance(0);
    expect(l.counts().committed).toBe(1);
    await clock.advance(100);
    expect(await late).toBeInstanceOf(KitRateLimitedError);
    await clock.runAll();
    expect(ran).toEqual(['a']);
    // The withdrawn slot was spent: the next call books the one after it.
    const starts: number[] = [];
    const next = burst(l, 1, starts);
    await clock.runAll();
    await Promise.all(next);
    expect(starts).toEqual([clock.now()]);
  });
});

describe('pauseFor', () => {
  it('holds every queued call until the pause ends', async () => {
    const l = limiter(100, 1000); // 10 ms apart
    const warm = l.schedule(async () => {});
    await clock.advance(0);
    await warm;
    const paused = clock.now();
    l.pauseFor(300);
    expect(l.counts().pausedForMs).toBe(300);
    const starts: number[] = [];
    const all = burst(l, 3, starts);
    await clock.runAll();
    await Promise.all(all);
    expect(starts.map((s) => s - paused)).toEqual([300, 310, 320]);
  });
});

describe('stop', () => {
  it('rejects queued calls with a retryable KitUnavailableError and lets the running one finish', async () => {
    const l = limiter(2, 1000);
    let release!: () => void;
    let finished = false;
    const running = l.schedule(async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      finished = true;
      return 'done';
    });
    const queued = Array.from({ length: 3 }, () => l.schedule(async () => 'never'));
    await clock.advance(20);
    const stopped = l.stop();
    for (const q of queued) {
      const e = await q.catch((x) => x);
      expect(e).toBeInstanceOf(KitUnavailableError);
      expect(e.retryAfterMs).toBeGreaterThan(0);
    }
    expect(finished).toBe(false);
    release();
    await stopped;
    expect(finished).toBe(true);
    await expect(running).resolves.toBe('done');
    await expect(l.schedule(async () => 'late')).rejects.toBeInstanceOf(KitUnavailableError);
    expect(clock.pending).toBe(0);
  });
});

describe('abort signal', () => {
  it('withdraws a queued call when the caller aborts', async () => {
    const l = limiter(1, 1000);
    const ran: string[] = [];
    const a = l.schedule(async () => void ran.push('a'));
    await clock.advance(0);
    await a;
    const ac = new AbortController();
    const p = l.schedule(async () => void ran.push('b'), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(KitUnavailableError);
    await clock.runAll();
    expect(ran).toEqual(['a']);
  });
});

describe('a slot book that cannot book', () => {
  it('fails the call with KitLimiterUnavailableError, sends nothing, and serves the next one', async () => {
    let failNext = 1;
    const l = limiter(10, 1000, 0, {
      slots: (spacing, c) => {
        const local = new LocalSlotBook(spacing, c);
        return {
          shared: true,
          pause: (ms: number) => local.pause(ms),
          book: () =>
            failNext-- > 0 ? Promise.reject(new KitLimiterUnavailableError('Redis timed out')) : local.book(),
        };
      },
    });
    const ran: string[] = [];
    const first = l.schedule(async () => void ran.push('a')).catch((e) => e);
    const second = l.schedule(async () => void ran.push('b'));
    await clock.runAll();
    const err = await first;
    expect(err).toBeInstanceOf(KitLimiterUnavailableError);
    expect(err.message).toMatch(/shared Kit rate limiter/);
    await second;
    expect(ran).toEqual(['b']);
  });
});
