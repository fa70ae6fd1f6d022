// The arithmetic behind the limiter: how far apart calls must start so that Kit never sees more than `budget`
// of them in any rolling window. Pure, so it can be checked without a clock.

export interface WindowBudget {
  /** Calls allowed in any rolling window (Kit: 120, lower when the key is shared with other services). */
  budget: number;
  /** Kit: 60 000 ms. */
  windowMs: number;
  /** Margin for everything between our dispatch clock and Kit's arrival clock; see spacingMs. */
  safetyMs?: number;
}

export const KIT_WINDOW_MS = 60_000;
export const KIT_MAX_BUDGET = 120;

/**
 * 1 s at Kit's real window (1.6 % of throughput), 5 % of shorter test windows. It covers timer lateness of a
 * busy event loop and network jitter. (Replicas' clock skew does not enter: the shared slot book in slots.ts
 * books on Redis's clock.)
 */
export function defaultSafetyMs(windowMs: number): number {
  return Math.max(1, Math.min(1000, Math.round(windowMs * 0.05)));
}

/**
 * The minimum gap between two call starts.
 *
 * Why a fixed gap and not a reservoir refreshed every window: a refresh is a fixed window, so `budget` calls at the
 * end of one window plus `budget` at the start of the next put 2×budget inside one rolling window.
 *
 * Why this gap holds in *any* rolling window, as Kit counts it (arrivals on Kit's clock):
 * - we start call i at s_i with s_{i+1} - s_i >= gap (the slot book's spacing; in Redis mode shared by every
 *   process, because each booking advances one `next slot` key);
 * - Kit sees it at a_i = s_i + d_i, where d_i (timer lateness + transit + clock skew) lies in [0, J];
 * - budget+1 consecutive arrivals a_i .. a_{i+budget} span at least budget·gap - J;
 * - with gap = ceil((windowMs + safetyMs) / budget) that span is >= windowMs + safetyMs - J, which is more than
 *   windowMs whenever J < safetyMs. So no window of length windowMs ever holds budget+1 arrivals.
 * The cost is throughput: windowMs / (windowMs + safetyMs) of the budget (98.4 % at 60 s with 1 s of margin).
 */
export function spacingMs({ budget, windowMs, safetyMs = defaultSafetyMs(windowMs) }: WindowBudget): number {
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError('budget must be a whole number of calls >= 1');
  if (budget > KIT_MAX_BUDGET) throw new RangeError(`budget cannot exceed Kit's ${KIT_MAX_BUDGET} calls per window`);
  if (!(windowMs > 0)) throw new RangeError('windowMs must be > 0');
  if (!(safetyMs >= 0)) throw new RangeError('safetyMs must be >= 0');
  return Math.ceil((windowMs + safetyMs) / budget);
}

/** Sustained share of the budget the spacing allows, for capacity planning and the benchmark. */
export function sustainedShare(b: WindowBudget): number {
  return b.windowMs / spacingMs(b) / b.budget;
}

/**
 * The most timestamps that fall inside one window of `windowMs` (t_last - t_first < windowMs), scanning every
 * window that starts at a timestamp; used to check a call log against Kit's rule.
 */
export function maxInWindow(timestamps: readonly number[], windowMs: number): number {
  const t = [...timestamps].sort((a, b) => a - b);
  let best = 0;
  let first = 0;
  for (let last = 0; last < t.length; last++) {
    while (t[last] - t[first] >= windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}
