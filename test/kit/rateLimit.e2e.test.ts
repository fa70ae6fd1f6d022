import { KitRateLimitedError, KitUnavailableError } from '../../src/kit/errors';
import { maxInWindow } from '../../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { harness, realSleep } from './support';

// The limiter in front of a real (fake) Kit window: the sandbox counts every arrival on its own clock.

let sb: KitSandbox;
beforeEach(async () => {
  sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
});
afterEach(async () => {
  await sb.close();
});

describe('429 from Kit', () => {
  it('pauses every caller for Retry-After and still completes every call', async () => {
    // Kit's window is tighter than our budget (e.g. the key is shared with another service).
    sb.setRateLimit({ max: 5, windowMs: 1000 });
    const h = harness(sb, { sleep: realSleep, budget: 10, windowMs: 1000 }); // 105 ms apart
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => h.client.account()));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

    const { log, rateLimited } = sb.calls();
    expect(rateLimited).toBeGreaterThan(0);
    // After each 429, nobody knocks again until its Retry-After (1 s) is over, apart from calls that had
    // already left before the 429 came back (on a loaded machine, up to two more slots): without the pause,
    // nine would arrive in that second.
    for (const limited of log.filter((c) => c.status === 429)) {
      const during = log.filter((c) => c.at > limited.at && c.at < limited.at + 950);
      expect(during.length).toBeLessThanOrEqual(3);
    }
    expect(h.records.filter((r) => r.status === 429).every((r) => r.attempt <= 3)).toBe(true);
    await h.limiter.stop();
  });

  it('gives up with KitRateLimitedError (carrying Retry-After) when Kit keeps answering 429', async () => {
    sb.setFaults({ failNext: 10, failStatus: 429 });
    const h = harness(sb);
    const err = await h.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBe(1000);
    expect(h.records).toHaveLength(4);
    await h.limiter.stop();
  });

  it('answers at once when the Retry-After outlasts the caller’s maxWaitMs', async () => {
    sb.setFaults({ failNext: 1, failStatus: 429 });
    const h = harness(sb);
    const err = await h.client.account({ maxWaitMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBe(1000);
    // Answered at once: no backoff slept, no pause taken, no second attempt.
    expect(h.delays).toEqual([]);
    expect(h.limiter.counts().pausedForMs).toBe(0);
    expect(sb.calls().total).toBe(1);
    await h.limiter.stop();
  });
});

describe('waiting in the limiter', () => {
  it('maxWaitMs: a call that cannot start in time is refused and never reaches Kit', async () => {
    const h = harness(sb, { budget: 2, windowMs: 1000 }); // 525 ms apart
    const a = h.client.account();
    const b = h.client.account();
    const err = await h.client.account({ maxWaitMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    await Promise.all([a, b]);
    await realSleep(700);
    expect(sb.calls().total).toBe(2);
    await h.limiter.stop();
  });

  it('stop(): queued calls reject with a retryable KitUnavailableError and are never sent', async () => {
    const h = harness(sb, { budget: 2, windowMs: 1000 });
    const calls = Array.from({ length: 5 }, () => h.client.account());
    // Handled from the start: stop() rejects the queued calls at once, then waits for the one talking to Kit.
    const outcomes = Promise.allSettled(calls);
    await realSleep(50);
    await h.limiter.stop();
    const settled = await outcomes;
    const fulfilled = settled.filter((s) => s.status === 'fulfilled').length;
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    expect(fulfilled).toBe(1);
    expect(rejected).toHaveLength(4);
    for (const e of rejected) {
      expect(e).toBeInstanceOf(KitUnavailableError);
      expect(e.retryAfterMs).toBeGreaterThan(0);
    }
    await realSleep(600);
    expect(sb.calls().total).toBe(1);
  });
});

describe('the rolling window', () => {
  it('30 calls against 12 per 2 s: no 429, never more than 12 in any 2 s', async () => {
    sb.setRateLimit({ max: 12, windowMs: 2000 });
    // A wide safety margin (500 ms) absorbs the timer lateness of a loaded 2-core machine; the margin Kit's real
    // window gets, and throughput against the budget, are `npm run bench -- limiter` figures.
    const h = harness(sb, { sleep: realSleep, budget: 12, windowMs: 2000, safetyMs: 500 });
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => h.client.account({ priority: i % 3 === 0 ? 'interactive' : 'background' })),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const { log, rateLimited, total } = sb.calls();
    // Every first attempt arrived; on a loaded machine a slow answer may time out and be retried (GET is
    // safe to repeat), and that retry must also go through the limiter, so it is in the window check below.
    expect(h.records.filter((r) => r.attempt === 1)).toHaveLength(30);
    expect(total).toBe(h.records.length);
    expect(rateLimited).toBe(0);
    expect(h.records.every((r) => r.status === 200 || (r.status === 'error' && r.attempt < 4))).toBe(true);
    expect(
      maxInWindow(
        log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(12);
    await h.limiter.stop();
  });
});
