import type { Clock } from './clock';

// Kit: "no more than 120 requests over a rolling 60 second period for a given api key". A strict rolling
// window per credential: a call is accepted only if fewer than `max` accepted calls happened in the last
// `windowMs`. Rejected (429) calls are NOT recorded, so a client hammering through a 429 storm does not push
// its own recovery further out; Retry-After is therefore exact: the moment enough accepted calls leave.

export interface RateLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { max: 120, windowMs: 60_000 };

export type Admission = { accepted: true; remaining: number } | { accepted: false; retryAfterSeconds: number };

/** Accepted-call times of one credential, oldest first; `head` skips the ones that left the window. */
interface CallTimes {
  times: number[];
  head: number;
}

export class RollingRateWindow {
  private limit: RateLimit;
  private readonly windows = new Map<string, CallTimes>();

  constructor(
    limit: RateLimit,
    private readonly now: Clock,
  ) {
    this.limit = validRateLimit(limit);
  }

  get current(): RateLimit {
    return { ...this.limit };
  }

  /** Changing the limit keeps the calls already in the window. */
  setLimit(limit: RateLimit): void {
    this.limit = validRateLimit(limit);
  }

  admit(credential: string): Admission {
    const now = this.now();
    let w = this.windows.get(credential);
    if (!w) {
      w = { times: [], head: 0 };
      this.windows.set(credential, w);
    }
    const { max, windowMs } = this.limit;
    // A call made at t is inside the window while now < t + windowMs.
    while (w.head < w.times.length && w.times[w.head] + windowMs <= now) w.head++;
    if (w.head > 1024 && w.head * 2 > w.times.length) {
      w.times = w.times.slice(w.head);
      w.head = 0;
    }
    const inWindow = w.times.length - w.head;
    if (inWindow >= max) {
      // The call that must leave before one more fits: with `inWindow` calls and room for `max`, it is the
      // (inWindow - max + 1)-th oldest.
      const leaving = w.times[w.head + inWindow - max];
      const waitMs = leaving + windowMs - now;
      return { accepted: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    w.times.push(now);
    return { accepted: true, remaining: max - inWindow - 1 };
  }

  reset(): void {
    this.windows.clear();
  }
}

function validRateLimit(limit: RateLimit): RateLimit {
  const max = Math.floor(Number(limit?.max));
  const windowMs = Math.floor(Number(limit?.windowMs));
  if (!(max >= 1) || !(windowMs >= 1)) throw new Error('rate limit needs max >= 1 and windowMs >= 1');
  return { max, windowMs };
}
