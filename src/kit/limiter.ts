import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import Redis from 'ioredis';
import type { KitCredentials } from '../config';
import { KitRateLimitedError, KitUnavailableError } from './errors';
import { type LimiterPriority, PRIORITIES, PriorityLanes } from './priorityLanes';
import { KIT_WINDOW_MS, spacingMs } from './spacing';

export type { LimiterPriority } from './priorityLanes';

/*
 * One limiter per Kit credential, shared by every client in the process and, through Redis, by every replica.
 *
 * Two layers:
 * - Bottleneck owns the *spacing*: minTime = spacingMs(budget, window) between call starts (see spacing.ts for why
 *   that holds in any rolling window). In Redis mode its Lua scripts advance one shared `nextRequest`, so the
 *   spacing holds across processes.
 * - In front of it, our own priority lanes own *admission*. Bottleneck registers every queued job at once when
 *   only minTime is set (each gets its future slot immediately), which would make priorities meaningless and
 *   leave no way to withdraw a job whose caller gave up without burning its slot. So only `lookahead` jobs per
 *   process are handed to Bottleneck at a time; the rest wait in the lanes, where a newer interactive call
 *   overtakes older background work and an expired call simply leaves.
 *
 * A 429's Retry-After pauses admission for everyone sharing the limiter (published through Bottleneck's own
 * pub/sub, plus a Redis key for processes that start during the pause). Policy (whether to retry) lives in
 * retry.ts; the limiter only provides the mechanism: pauseFor() and the 'retry' lane.
 */

export interface KitLimiterOptions {
  /** Names the shared limiter; build it with limiterIdFor() so replicas using one credential meet in Redis. */
  id: string;
  /** Calls allowed in any rolling window: 120 for Kit, lower when the key is shared with other services. */
  budget: number;
  windowMs?: number;
  /** Margin between our clock and Kit's; see spacing.ts. */
  safetyMs?: number;
  /** Share the limiter with every process using the same id (Bottleneck clustering over ioredis). */
  redisUrl?: string;
  /** Jobs per process handed to Bottleneck ahead of their slot. 1 keeps priority inversion to one slot. */
  lookahead?: number;
  /** Idle time after which the limiter's Redis keys expire. */
  redisKeyTtlMs?: number;
  /** A call fails (KitUnavailableError, nothing sent) when Redis is not reachable within this at start. */
  redisReadyTimeoutMs?: number;
  /** Called when a call leaves the queue for Kit, with how long it waited. */
  onWait?: (waitedMs: number, priority: LimiterPriority) => void;
  /** Called whenever the number of queued calls changes. */
  onQueue?: (depth: number) => void;
  /** Bottleneck/Redis trouble that does not belong to one call. */
  onError?: (error: unknown) => void;
  now?: () => number;
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
  /** Calls handed to Bottleneck, waiting for their slot. */
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
  ready(): Promise<void>;
  schedule<T>(run: () => Promise<T>, opts?: ScheduleOptions): Promise<T>;
  /** Pause every sharer of this limiter for at least `ms` (a 429's Retry-After). */
  pauseFor(ms: number): void;
  counts(): LimiterCounts;
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
      : ['oauth', credentials.clientId ?? credentials.refreshToken ?? credentials.accessToken ?? ''];
  const digest = createHash('sha256')
    .update([baseUrl.replace(/\/+$/, ''), ...material].join('\n'))
    .digest('hex');
  return `${namespace}-${digest.slice(0, 24)}`;
}

/** The Redis key holding a cross-process pause; `b_<id>_` so it is cleaned up with Bottleneck's own keys. */
export function pauseKeyFor(id: string): string {
  return `b_${id}_kit_pause`;
}

// Keeps the longer of the current and the requested pause, atomically.
const EXTEND_PAUSE_LUA = `
local current = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], '1', 'PX', wanted)
  return wanted
end
return current`;

const PAUSE_MESSAGE = 'pause:';

interface Entry {
  priority: LimiterPriority;
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  enqueuedAt: number;
  state: 'queued' | 'committed' | 'running' | 'settled';
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

class BottleneckKitLimiter implements KitLimiter {
  readonly id: string;
  readonly budget: number;
  readonly windowMs: number;
  readonly spacingMs: number;

  private readonly lanes = new PriorityLanes<Entry>();
  private readonly committedEntries = new Set<Entry>();
  private running = 0;
  private pausedUntil = 0;
  private resumeTimer?: NodeJS.Timeout;
  private stopped = false;
  private stopping?: Promise<void>;
  private readonly lookahead: number;
  private readonly now: () => number;
  private readonly bottleneck: Bottleneck;
  private readonly redis?: Redis;
  private readonly connection?: Bottleneck.IORedisConnection;
  private readonly readyPromise: Promise<void>;
  private isReady = false;

  constructor(private readonly opts: KitLimiterOptions) {
    this.id = opts.id;
    this.budget = opts.budget;
    this.windowMs = opts.windowMs ?? KIT_WINDOW_MS;
    this.spacingMs = spacingMs({ budget: opts.budget, windowMs: this.windowMs, safetyMs: opts.safetyMs });
    this.lookahead = Math.max(1, opts.lookahead ?? 1);
    this.now = opts.now ?? Date.now;

    if (opts.redisUrl) {
      this.redis = new Redis(opts.redisUrl, {
        lazyConnect: false,
        // Keep reconnecting while we run; stop once stop() was called so shutdown does not linger.
        retryStrategy: (times) => (this.stopped ? null : Math.min(times * 200, 2000)),
      });
      // Bottleneck 2.19 predates ioredis 5: hand it both the module and our client rather than letting it
      // eval-require its own copy. It duplicates the client for its pub/sub subscriber.
      this.connection = new Bottleneck.IORedisConnection({ Redis, client: this.redis });
      this.connection.on('error', (e) => this.opts.onError?.(e));
      this.bottleneck = new Bottleneck({
        id: this.id,
        datastore: 'ioredis',
        connection: this.connection,
        minTime: this.spacingMs,
        clearDatastore: false,
        timeout: opts.redisKeyTtlMs ?? 60 * 60_000,
      });
    } else {
      this.bottleneck = new Bottleneck({ id: this.id, minTime: this.spacingMs });
    }
    this.bottleneck.on('error', (e) => this.opts.onError?.(e));
    this.bottleneck.on('message', (message: string) => {
      if (message.startsWith(PAUSE_MESSAGE)) this.extendPause(Number(message.slice(PAUSE_MESSAGE.length)));
    });

    this.readyPromise = this.bottleneck
      .ready()
      .then(async () => {
        if (this.redis) {
          // Settings persist in Redis across restarts; ours (e.g. a lowered budget) win.
          await this.bottleneck.updateSettings({ minTime: this.spacingMs });
          const remaining = await this.redis.pttl(pauseKeyFor(this.id));
          if (remaining > 0) this.extendPause(remaining);
        }
        this.isReady = true;
      })
      .catch((e) => {
        this.opts.onError?.(e);
        throw limiterFailure(e);
      });
    // Callers observe failures through schedule(); keep the rejection from being "unhandled" meanwhile.
    this.readyPromise.catch(() => {});
  }

  ready(): Promise<void> {
    return this.readyPromise;
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
        enqueuedAt: this.now(),
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
        entry.timer = setTimeout(() => this.expire(entry, opts.maxWaitMs!), Math.max(0, opts.maxWaitMs));
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
    // Everyone on this limiter id hears it, this process included (harmless: extendPause keeps the max).
    this.bottleneck.publish(`${PAUSE_MESSAGE}${Math.ceil(ms)}`).catch((e) => this.opts.onError?.(e));
    this.redis
      ?.eval(EXTEND_PAUSE_LUA, 1, pauseKeyFor(this.id), String(Math.ceil(ms)))
      .catch((e) => this.opts.onError?.(e));
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
    clearTimeout(this.resumeTimer);
    for (const entry of this.lanes.drain()) this.settle(entry, undefined, shuttingDown());
    for (const entry of this.committedEntries) this.settle(entry, undefined, shuttingDown());
    this.committedEntries.clear();
    this.opts.onQueue?.(0);
    this.stopping = (async () => {
      // Drops whatever Bottleneck still holds (already rejected above) and waits for calls in flight.
      await this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => {});
      // quit() would wait for a Redis that never answered; then just drop the sockets.
      await this.connection?.disconnect(this.isReady).catch(() => {});
    })();
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
    this.whenReady()
      .then(() =>
        this.bottleneck.schedule({ priority: PRIORITIES.indexOf(entry.priority) }, () => this.dispatch(entry)),
      )
      .catch((e) => {
        // Bottleneck dropped the job (stop) or Redis failed: it never reached Kit.
        if (this.committedEntries.delete(entry)) this.pump();
        this.settle(entry, undefined, this.stopped ? shuttingDown(e) : limiterFailure(e));
      });
  }

  /**
   * ioredis keeps reconnecting and Bottleneck waits for it without a deadline; a call should rather fail
   * (503 to the IdP) than hang until its maxWaitMs when Redis is away at start-up.
   */
  private whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(limiterFailure(new Error('Redis did not answer in time'))),
        this.opts.redisReadyTimeoutMs ?? 5000,
      );
      this.readyPromise.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** Runs in Bottleneck's slot: the only place a call leaves for Kit. */
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
    this.opts.onWait?.(this.now() - entry.enqueuedAt, entry.priority);
    this.pump(); // book the next slot while this call is in flight
    try {
      this.settle(entry, await entry.run());
    } catch (e) {
      this.settle(entry, undefined, e);
    } finally {
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
    clearTimeout(entry.timer);
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
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private pauseRemaining(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  private resumeIn(ms: number): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.pump(), ms);
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
  return new KitUnavailableError('The shared Kit rate limiter is unavailable; the call was not sent', {
    retryAfterMs: 5000,
    cause: sanitised(cause),
  });
}

function aborted(): KitUnavailableError {
  return new KitUnavailableError('The call was cancelled before it was sent to Kit');
}

function sanitised(e: unknown): Error {
  return new Error(e instanceof Error ? e.message : String(e));
}

export function createKitLimiter(options: KitLimiterOptions): KitLimiter {
  return new BottleneckKitLimiter(options);
}
