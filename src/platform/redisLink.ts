import Redis from 'ioredis';
import { type Clock, systemClock, type TimerHandle } from './clock';

// One connection to the Redis every replica shares (limiter slots, page caches, OAuth tokens), and the one
// judge of whether it can be used right now.
//
// Why not just call Redis and see: a paused Redis (SIGSTOP, a long fork, a network partition) keeps the TCP
// connection open and answers nothing, so every caller would wait out its own timeout, one after another.
// Instead a command that fails or times out marks the link unhealthy; while unhealthy, callers get an
// immediate RedisUnavailableError and fall back (the limiter to a per-replica budget, the caches to no
// cache); a probe (PING) runs every `probeIntervalMs` and the first answer makes the link healthy again.
// Nothing here registers state in Redis that could be forgotten: a Redis restarted empty is simply healthy
// again, and each user of the link re-creates what it needs from scratch.

export interface RedisLinkOptions {
  url: string;
  /** No Redis command waits longer than this. */
  commandTimeoutMs?: number;
  /** How often a PING checks the link, healthy or not. */
  probeIntervalMs?: number;
  clock?: Clock;
  /** Called when the link turns healthy or unhealthy, with the reason. */
  onHealthChange?: (healthy: boolean, detail: string) => void;
}

export class RedisUnavailableError extends Error {
  constructor(reason: string) {
    super(`Redis is unavailable: ${reason}`);
    this.name = 'RedisUnavailableError';
  }
}

export class RedisLink {
  readonly client: Redis;
  private healthyNow = false;
  private reason = 'connecting';
  private probeTimer?: TimerHandle;
  private probing = false;
  private closed = false;
  private readonly clock: Clock;
  private readonly probeIntervalMs: number;
  private readonly recoveryListeners = new Set<() => void>();

  constructor(private readonly opts: RedisLinkOptions) {
    this.clock = opts.clock ?? systemClock;
    this.probeIntervalMs = opts.probeIntervalMs ?? 1000;
    this.client = new Redis(opts.url, {
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      // Fail at once while disconnected instead of queueing commands for a Redis that may never come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnect for as long as we run, at most a second apart, so a restarted Redis is found quickly.
      retryStrategy: (times) => (this.closed ? null : Math.min(100 * times, 1000)),
      // How long disconnect() lets the socket close politely before destroying it. ioredis arms this timer even
      // when the socket is long gone (Redis down, reconnecting), and nothing clears it then, so with the default
      // 2 s a process that closed its link still could not exit for 2 s. close() never waits on Redis anyway.
      disconnectTimeout: 0,
    });
    // ioredis reports connection trouble through 'error'; the probe turns it into health.
    this.client.on('error', (err: Error) => this.markFailed(err.message));
    this.client.on('close', () => this.markFailed('connection closed'));
    this.client.on('ready', () => void this.probe());
    this.scheduleProbe();
  }

  get healthy(): boolean {
    return this.healthyNow;
  }

  get detail(): string {
    return this.healthyNow ? 'ok' : this.reason;
  }

  /**
   * Runs one operation against Redis, or fails at once (RedisUnavailableError) while the link is unhealthy.
   * A failure of the operation itself marks the link unhealthy until the next successful probe.
   */
  async run<T>(op: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.healthyNow) throw new RedisUnavailableError(this.reason);
    try {
      return await op(this.client);
    } catch (err) {
      // A reply error (wrong type, a script bug) means Redis answered: the link itself is fine.
      if (!isReplyError(err)) this.markFailed((err as Error).message);
      throw new RedisUnavailableError((err as Error).message);
    }
  }

  /** Called each time the link turns healthy again (e.g. to re-send what was dropped meanwhile). */
  onRecovery(listener: () => void): () => void {
    this.recoveryListeners.add(listener);
    return () => this.recoveryListeners.delete(listener);
  }

  /** Resolves once the link is healthy or `timeoutMs` has passed; tells which. */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    if (this.healthyNow) return true;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        off();
        resolve(this.healthyNow);
      }, timeoutMs);
      const off = this.onRecovery(() => {
        this.clock.clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.probeTimer);
    this.recoveryListeners.clear();
    // quit() would wait on a Redis that does not answer; shutdown must not.
    this.client.disconnect();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = this.clock.setTimeout(
      () => {
        void this.probe().finally(() => this.scheduleProbe());
      },
      this.probeIntervalMs,
      { background: true },
    );
  }

  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await this.client.ping();
      this.markHealthy();
    } catch (err) {
      this.markFailed((err as Error).message);
    } finally {
      this.probing = false;
    }
  }

  private markHealthy(): void {
    if (this.healthyNow || this.closed) return;
    this.healthyNow = true;
    this.opts.onHealthChange?.(true, 'ok');
    for (const listener of [...this.recoveryListeners]) listener();
  }

  private markFailed(reason: string): void {
    const changed = this.healthyNow;
    this.healthyNow = false;
    this.reason = reason;
    if (changed && !this.closed) this.opts.onHealthChange?.(false, reason);
  }
}

function isReplyError(err: unknown): boolean {
  return (err as Error)?.name === 'ReplyError' && !/LOADING|BUSY|MASTERDOWN|READONLY/.test((err as Error).message);
}
