import { type Clock, systemClock, type TimerHandle } from '../../src/platform/clock';

/**
 * A clock that moves only when told. Timers fire in due order as `advance` passes them, with pending promise
 * callbacks run between them, so code waiting on it behaves as on the real clock, in no time.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id } as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete((handle as { id: number }).id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await this.fireUntil(end);
    this.t = end;
    await settle();
  }

  /** Fires timers until none is left (or `limitMs` of clock time has passed). */
  async runAll(limitMs = 24 * 3600_000): Promise<void> {
    await this.fireUntil(this.t + limitMs);
  }

  private async fireUntil(end: number): Promise<void> {
    for (;;) {
      await settle();
      const next = this.nextDue(end);
      if (!next) return;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
  }

  private nextDue(end: number): { id: number; at: number; fn: () => void } | undefined {
    let best: { id: number; at: number; fn: () => void } | undefined;
    for (const [id, timer] of this.timers) {
      if (timer.at <= end && (!best || timer.at < best.at || (timer.at === best.at && id < best.id))) {
        best = { id, ...timer };
      }
    }
    return best;
  }
}

/** Lets every pending promise callback run (several turns, for chains of awaits). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Real time that a test can move ahead. Timers run on their own, as on the system clock (so sockets, the
 * limiter and the sandbox just work), and `jump(ms)` moves the clock forward, firing at once every timer that
 * falls due: a deadline is reached without being waited out, and without a stopwatch in the test.
 */
export class JumpClock implements Clock {
  private offset = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void; real?: NodeJS.Timeout }>();

  /**
   * `holdAbove`: timers longer than this never fire by themselves, only by jump(), so a test can tell "this
   * ended because the code stopped waiting" from "this ended because the wait ran out".
   */
  constructor(private readonly opts: { holdAbove?: number } = {}) {}

  now(): number {
    return Date.now() + this.offset;
  }

  setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): TimerHandle {
    const id = ++this.seq;
    const wait = Math.max(0, ms);
    const held = this.opts.holdAbove !== undefined && wait > this.opts.holdAbove;
    const real = held
      ? undefined
      : setTimeout(() => {
          this.timers.delete(id);
          fn();
        }, wait);
    if (opts?.background) real?.unref();
    this.timers.set(id, { at: this.now() + wait, fn, real });
    return { id } as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle && this.timers.get((handle as { id: number }).id);
    if (!timer) return;
    clearTimeout(timer.real);
    this.timers.delete((handle as { id: number }).id);
  }

  /** Moves the clock `ms` ahead; timers due by then fire now, in due order. */
  jump(ms: number): void {
    this.offset += ms;
    const due = [...this.timers].filter(([, t]) => t.at <= this.now()).sort(([a, x], [b, y]) => x.at - y.at || a - b);
    for (const [id, timer] of due) {
      clearTimeout(timer.real);
      this.timers.delete(id);
      timer.fn();
    }
  }
}

/**
 * The system clock's timers, and a time the test sets (`now`, read at each call): for stamps a test asserts
 * exactly (meta.lastModified, journal entries) while sockets, retries and the limiter run on real timers.
 */
export function stampClock(now: () => number): Clock {
  return { now, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
}
