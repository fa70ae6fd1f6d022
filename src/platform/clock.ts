// Time as a dependency. Everything that waits, expires or stamps takes a Clock from its caller, so tests drive
// retries, the limiter, caches and shutdown with a test clock and assert on booked times and order instead of
// sleeping. The system clock looks the globals up at call time, so Jest's fake timers also reach it.

/** An opaque timer handle; only the clock that made it can clear it. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** `background: true` lets the process exit while the timer is pending (Node's unref). */
  setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, opts) => {
    const timer = setTimeout(fn, Math.max(0, ms));
    if (opts?.background) timer.unref();
    return timer;
  },
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}
