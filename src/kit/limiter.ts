import { createHash } from 'node:crypto';
import { type Clock, systemClock, type TimerHandle } from '../platform/clock';
import type { KitCredentials } from '../config/kitCredentials';
import { KitLimiterUnavailableError, KitRateLimitedError, KitUnavailableError } from './errors';
import { type LimiterPriority, PRIORITIES, PriorityLanes } from './priorityLanes';
import { LocalSlotBook, type SlotBook } from './slots';
import { KIT_WINDOW_MS, spacingMs } from './spacing';

export type { LimiterPriority } from './priorityLanes';

/*
 * One limiter per Kit credential, shared by every client in the process and, through a shared slot book in
 * Redis (slots.ts), by every replica.
 *
 * Two layers:
 * - The slot book owns the *spacing*: consecutive call starts are spacingMs(budget, window) apart (see
 *   spacing.ts for why that holds in any rolling window).
 * - In front of it, our own priority lanes own *admission*. Only `lookahead` calls per process hold a booked slot
 *   at a time; the rest wait in the lanes, where a newer interactive call overtakes older background work and an
 *   expired call simply leaves without burning a slot of Kit's budget.
 *
 * A 429's Retry-After pauses admission for everyone sharing the limiter (the slot book carries the pause to the
 * other replicas). Policy (whether to retry) lives in retry.ts; the limiter only provides the mechanism:
 * pauseFor() and the 'retry' lane. Every wait runs on the injected clock, so tests book slots on a test clock.
 */

export interface KitLimiterOptions {
  /** Names the shared limiter; build it with limiterIdFor() so replicas using one credential meet in Redis. */
  id: string;
  /** Calls allowed in any rolling window: 120 for Kit, lower when the key is shared with other services. */
  budget: number;
  windowMs?: number;
  /** Margin between our clock and Kit's; see spacing.ts. */
  safetyMs?: number;
  /**
   * Where slots are booked; by default a LocalSlotBook for this process. Pass a SharedSlotBook (built with the
   * same spacing: use spacingMs()) to share the budget with other replicas.
   */
  slots?: (spacingMs: number, clock: Clock) => SlotBook;
  /** Calls per process holding a booked slot ahead of time. 1 keeps priority inversion to one slot. */
  lookahead?: number;
  /** Called when a call leaves the queue for Kit, with how long it waited. */
  onWait?: (waitedMs: number, priority: LimiterPriority) => void;
  /** Called whenever the number of queued calls changes. */
  onQueue?: (depth: number) => void;
  clock?: Clock;
}

export interface ScheduleOptions {
  priority?: LimiterPriority;
  /** Reject with KitRateLimitedError (and never send) when the call cannot start within this many ms. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

export interface LimiterCounts {
  /** Calls waiting in our lanes. */
  queued: number;
  byPriority: Record<LimiterPriority, number>;
  /** Calls holding a booked slot, waiting for it to come. */
  committed: number;
  /** Calls talking to Kit right now. */
  running: number;
  /** Remaining pause after a 429, 0 when not paused. */
  pausedForMs: number;
}

export interface KitLimiter {
  readonly id: string;
  readonly budget: number;
  readonly windowMs: number;
  /** The enforced gap between call starts. */
  readonly spacingMs: number;
  schedule<T>(run: () => Promise<T>, opts?: ScheduleOptions): Promise<T>;
  /** Pause every sharer of this limiter for at least `ms` (a 429's Retry-After). */
  pauseFor(ms: number): void;
  counts(): LimiterCounts;
  /** Whether slots are booked with the other replicas right now (false: local only, or the Redis fallback). */
  readonly shared: boolean;
  /** Queued calls reject with a retryable KitUnavailableError; calls already talking to Kit finish. */
  stop(): Promise<void>;
}

/**
 * A stable, non-reversible limiter id for one credential: the same across replicas and restarts (so they share
 * one budget), never the credential itself. OAuth access tokens rotate, so the OAuth app (client id) is hashed
 * instead; without one, the token seen at start-up.
 */
export function limiterIdFor(baseUrl: string, credentials: KitCredentials, namespace = 'kit'): string {
  const material =
    credentials.kind === 'apiKey'
      ? ['apiKey', credentials.apiKey]
      : credentials.kind === 'v3Secret'
        ? ['v3Secret', credentials.apiSecret]
        : ['oauth', credentials.clientId ?? credentials.refreshToken ?? credentials.accessToken ?? ''];
  const digest = createHash('sha256')
    .update([baseUrl.replace(/\/+$/, ''), ...material].join('\n'))
    .digest('hex');
  return `${namespace}-${digest.slice(0, 24)}`;
}

interface Entry {
  priority: LimiterPriority;
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  enqueuedAt: number;
  state: 'queued' | 'committed' | 'running' | 'settled';
  timer?: TimerHandle;
  slotTimer?: TimerHandle;
  signal?: AbortSignal;
  onAbort?: () => void;
}

class KitRateLimiter implements KitLimiter {
  readonly id: string;
  readonly budget: number;
  readonly windowMs: number;
  readonly spacingMs: number;

  private readonly lanes = new PriorityLanes<Entry>();
  private readonly committedEntries = new Set<Entry>();
  private running = 0;
  private pausedUntil = 0;
  private resumeTimer?: TimerHandle;
  private stopped = false;
  private stopping?: Promise<void>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly lookahead: number;
  private readonly clock: Clock;
  private readonly slots: SlotBook;

  constructor(private readonly opts: KitLimiterOptions) {
    this.id = opts.id;
    this.budget = opts.budget;
    this.windowMs = opts.windowMs ?? KIT_WINDOW_MS;
    this.spacingMs = spacingMs({ budget: opts.budget, windowMs: this.windowMs, safetyMs: opts.safetyMs });
    this.lookahead = Math.max(1, opts.lookahead ?? 1);
    this.clock = opts.clock ?? systemClock;
    this.slots = opts.slots ? opts.slots(this.spacingMs, this.clock) : new LocalSlotBook(this.spacingMs, this.clock);
  }

  get shared(): boolean {
    return this.slots.shared;
  }

  schedule<T>(run: () => Promise<T>, opts: ScheduleOptions = {}): Promise<T> {
    if (this.stopped) return Promise.reject(shuttingDown());
    const priority = opts.priority ?? 'interactive';
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = {
        priority,
        run,
        resolve: resolve as (v: unknown) => void,
        reject,
        enqueuedAt: this.clock.now(),
        state: 'queued',
        signal: opts.signal,
      };
      if (opts.signal?.aborted) return reject(aborted());
      if (opts.maxWaitMs !== undefined) {
        // Fail fast when even the most optimistic estimate misses the deadline: the IdP gets its 429 now.
        const earliest =
          this.pauseRemaining() +
          Math.max(0, this.lanes.ahead(priority) + this.committedEntries.size - 1) * this.spacingMs;
        if (earliest > opts.maxWaitMs) return reject(this.tooLong(priority, opts.maxWaitMs));
        entry.timer = this.clock.setTimeout(() => this.expire(entry, opts.maxWaitMs!), opts.maxWaitMs);
      }
      if (opts.signal) {
        entry.onAbort = () => this.withdraw(entry, aborted());
        opts.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.lanes.push(priority, entry);
      this.opts.onQueue?.(this.lanes.size);
      this.pump();
    });
  }

  pauseFor(ms: number): void {
    if (!(ms > 0) || this.stopped) return;
    this.extendPause(ms);
    this.slots.pause(Math.ceil(ms));
  }

  counts(): LimiterCounts {
    const byPriority = Object.fromEntries(PRIORITIES.map((p) => [p, this.lanes.sizeOf(p)])) as Record<
      LimiterPriority,
      number
    >;
    return {
      queued: this.lanes.size,
      byPriority,
      committed: this.committedEntries.size,
      running: this.running,
      pausedForMs: this.pauseRemaining(),
    };
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    this.clock.clearTimeout(this.resumeTimer);
    for (const entry of this.lanes.drain()) this.settle(entry, undefined, shuttingDown());
    for (const entry of this.committedEntries) {
      this.clock.clearTimeout(entry.slotTimer);
      this.settle(entry, undefined, shuttingDown());
    }
    this.committedEntries.clear();
    this.opts.onQueue?.(0);
    // Calls already talking to Kit finish, so no write is cut in half.
    this.stopping = Promise.allSettled([...this.inFlight]).then(() => undefined);
    return this.stopping;
  }

  private pump(): void {
    while (!this.stopped && this.committedEntries.size < this.lookahead && this.lanes.size > 0) {
      const pause = this.pauseRemaining();
      if (pause > 0) {
        this.resumeIn(pause);
        return;
      }
      const entry = this.lanes.shift()!;
      this.opts.onQueue?.(this.lanes.size);
      this.commit(entry);
    }
  }

  private commit(entry: Entry): void {
    entry.state = 'committed';
    this.committedEntries.add(entry);
    this.slots.book().then(
      (delayMs) => {
        if (entry.state !== 'committed') {
          // Withdrawn while booking: the slot goes unused.
          if (this.committedEntries.delete(entry)) this.pump();
          return;
        }
        entry.slotTimer = this.clock.setTimeout(() => void this.dispatch(entry), delayMs);
      },
      (e) => {
        // No slot could be booked (the shared limiter is away and no fallback is allowed): nothing was sent.
        if (this.committedEntries.delete(entry)) this.pump();
        this.settle(entry, undefined, this.stopped ? shuttingDown(e) : limiterFailure(e));
      },
    );
  }

  /** Runs in the booked slot: the only place a call leaves for Kit. */
  private async dispatch(entry: Entry): Promise<void> {
    this.committedEntries.delete(entry);
    if (entry.state !== 'committed') {
      this.pump(); // withdrawn while waiting: the slot goes unused
      return;
    }
    if (this.pauseRemaining() > 0) {
      // A 429 arrived after this call was booked: back to the head of its lane, nothing sent.
      entry.state = 'queued';
      this.lanes.unshift(entry.priority, entry);
      this.opts.onQueue?.(this.lanes.size);
      this.pump();
      return;
    }
    entry.state = 'running';
    this.clearWatchers(entry);
    this.running++;
    this.opts.onWait?.(this.clock.now() - entry.enqueuedAt, entry.priority);
    this.pump(); // book the next slot while this call is in flight
    const call = (async () => entry.run())();
    this.inFlight.add(call);
    try {
      this.settle(entry, await call);
    } catch (e) {
      this.settle(entry, undefined, e);
    } finally {
      this.inFlight.delete(call);
      this.running--;
    }
  }

  private expire(entry: Entry, maxWaitMs: number): void {
    this.withdraw(entry, this.tooLong(entry.priority, maxWaitMs));
  }

  private withdraw(entry: Entry, error: unknown): void {
    if (entry.state === 'queued') {
      this.lanes.remove(entry.priority, entry);
      this.opts.onQueue?.(this.lanes.size);
    } else if (entry.state !== 'committed') return; // already talking to Kit: too late to withdraw
    this.settle(entry, undefined, error);
  }

  private settle(entry: Entry, value: unknown, error?: unknown): void {
    if (entry.state === 'settled') return;
    entry.state = 'settled';
    this.clearWatchers(entry);
    if (error !== undefined) entry.reject(error);
    else entry.resolve(value);
  }

  private clearWatchers(entry: Entry): void {
    this.clock.clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
  }

  private tooLong(priority: LimiterPriority, maxWaitMs: number): KitRateLimitedError {
    const retryAfterMs = Math.max(
      this.spacingMs,
      this.pauseRemaining() + (this.lanes.ahead(priority) + this.committedEntries.size) * this.spacingMs,
    );
    return new KitRateLimitedError(`Kit's rate limit would delay this call beyond ${maxWaitMs} ms; it was not sent`, {
      retryAfterMs,
    });
  }

  private extendPause(ms: number): void {
    if (!(ms > 0)) return;
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  private pauseRemaining(): number {
    return Math.max(0, this.pausedUntil - this.clock.now());
  }

  private resumeIn(ms: number): void {
    this.clock.clearTimeout(this.resumeTimer);
    this.resumeTimer = this.clock.setTimeout(() => this.pump(), ms);
  }
}

function shuttingDown(cause?: unknown): KitUnavailableError {
  return new KitUnavailableError('The Kit client is shutting down; the call was not sent', {
    retryAfterMs: 1000,
    cause: cause === undefined ? undefined : sanitised(cause),
  });
}

function limiterFailure(cause: unknown): KitUnavailableError {
  if (cause instanceof KitUnavailableError) return cause;
  return new KitLimiterUnavailableError(sanitised(cause).message);
}

function aborted(): KitUnavailableError {
  return new KitUnavailableError('The call was cancelled before it was sent to Kit');
}

function sanitised(e: unknown): Error {
  return new Error(e instanceof Error ? e.message : String(e));
}

export function createKitLimiter(options: KitLimiterOptions): KitLimiter {
  return new KitRateLimiter(options);
}
