import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../platform/clock';
import type { RedisLink } from '../platform/redisLink';
import type { Outbox, QueuedSet } from './outbox';

// SETs made while the shared outbox (Redis) cannot be reached wait here, on this replica, and move to the shared
// outbox when it answers again, in the order they were made (so in order per subject): once anything is spooled,
// every later SET is spooled behind it until the spool is empty, even if Redis answers meanwhile.
//
// With a spool file (SCIM_EVENTS_SPOOL_DIR) each spooled SET is appended to it before enqueue() returns, so a
// process that stops while Redis is away delivers them after its restart; the file is rewritten with what is
// left after each move. A crash between a move and that rewrite moves a SET twice: the same jti, queued once
// in Redis (the outbox keys SETs by jti), and receivers dedupe by jti.
//
// Bounded: past `maxSpooled` a SET is not spooled but lost, and each lost one is told (`onLost`: a log line, a
// metric and an audit record), never silently. The newest is the one lost: the file only grows at its end.

export interface SpoolOptions {
  redis: RedisLink;
  clock: Clock;
  logger: Logger;
  /** The append-only file; undefined: in memory only. */
  file?: string;
  maxSpooled: number;
  /** How often a non-empty spool tries to move its SETs when no recovery was signalled. */
  retryMs?: number;
  onLost: (receiver: string, set: { jti: string; subject: string }) => void;
}

type Spooled = { receiver: string; jti: string; subject: string; jwt: string };

export class SpooledOutbox implements Outbox {
  private readonly pending: Spooled[] = [];
  private moving?: Promise<void>;
  private timer?: TimerHandle;
  private readonly offRecovery: () => void;
  private closed = false;

  constructor(
    private readonly inner: Outbox,
    private readonly o: SpoolOptions,
  ) {
    if (o.file && existsSync(o.file)) this.load(o.file);
    this.offRecovery = o.redis.onRecovery(() => void this.drain());
    if (this.pending.length > 0) this.schedule();
  }

  /** SETs waiting for the shared outbox. */
  get spooled(): number {
    return this.pending.length;
  }

  async enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): Promise<void> {
    if (this.pending.length === 0) {
      try {
        await this.inner.enqueue(receiver, set);
        return;
      } catch {
        // Unreachable: spooled below.
      }
    }
    this.spool({ receiver, jti: set.jti, subject: set.subject, jwt: set.jwt });
  }

  /** Moves every spooled SET to the shared outbox, oldest first; stops at the first that cannot move. */
  drain(): Promise<void> {
    if (this.moving) return this.moving;
    if (this.pending.length === 0) return Promise.resolve();
    this.moving = this.move().finally(() => {
      this.moving = undefined;
      if (this.pending.length > 0) this.schedule();
    });
    return this.moving;
  }

  close(): void {
    this.closed = true;
    this.offRecovery();
    this.o.clock.clearTimeout(this.timer);
  }

  private spool(entry: Spooled): void {
    if (this.pending.length >= this.o.maxSpooled) {
      this.o.logger.error(
        { receiver: entry.receiver, jti: entry.jti, subject: entry.subject },
        'security event lost: Redis is unreachable and the local spool is full',
      );
      this.o.onLost(entry.receiver, entry);
      return;
    }
    if (this.o.file) {
      try {
        appendFileSync(this.o.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      } catch (err) {
        // Kept in memory regardless: lost only if this process stops before Redis returns.
        this.o.logger.error({ err: { message: (err as Error).message } }, 'security event spool file not written');
      }
    }
    this.pending.push(entry);
    this.schedule();
  }

  private async move(): Promise<void> {
    let moved = 0;
    try {
      while (this.pending.length > 0) {
        const next = this.pending[0]!;
        await this.inner.enqueue(next.receiver, { jti: next.jti, subject: next.subject, jwt: next.jwt });
        this.pending.shift();
        moved++;
      }
    } catch {
      // Redis went away again: the rest waits for the next try.
    } finally {
      if (moved > 0) {
        this.rewrite();
        this.o.logger.info({ moved, left: this.pending.length }, 'spooled security events moved to the outbox');
      }
    }
  }

  private rewrite(): void {
    if (!this.o.file) return;
    const tmp = `${this.o.file}.tmp`;
    writeFileSync(tmp, this.pending.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, this.o.file);
  }

  private load(file: string): void {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as Spooled;
        if (typeof e.receiver === 'string' && typeof e.jti === 'string' && typeof e.jwt === 'string')
          this.pending.push({ receiver: e.receiver, jti: e.jti, subject: String(e.subject), jwt: e.jwt });
      } catch {
        // A line cut short by a crash mid-append: the SET it held was never acknowledged to anyone.
        this.o.logger.warn({ file }, 'security event spool: an unreadable line skipped');
      }
    }
    if (this.pending.length > 0)
      this.o.logger.warn({ spooled: this.pending.length }, 'security events spooled before a restart will be sent');
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = this.o.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.drain();
      },
      this.o.retryMs ?? 1000,
      { background: true },
    );
  }

  // Everything else is the shared outbox's; spooled SETs are counted in the depth.
  take(receiver: string, max: number): Promise<QueuedSet[]> {
    return this.inner.take(receiver, max);
  }
  settle(receiver: string, jtis: string[]): Promise<QueuedSet[]> {
    return this.inner.settle(receiver, jtis);
  }
  available(receiver: string): Promise<boolean> {
    return this.inner.available(receiver);
  }
  has(receiver: string, jti: string): Promise<boolean> {
    return this.inner.has(receiver, jti);
  }
  extendLease(receiver: string, jti: string, until: number): Promise<void> {
    return this.inner.extendLease(receiver, jti, until);
  }
  waitFor(receiver: string, ms: number): Promise<void> {
    return this.inner.waitFor(receiver, ms);
  }
  wakeAll(): void {
    this.inner.wakeAll();
  }
  async depth(receiver: string): Promise<number> {
    const mine = this.pending.filter((e) => e.receiver === receiver).length;
    return (await this.inner.depth(receiver)) + mine;
  }
  oldestQueuedAt(receiver: string): Promise<number | undefined> {
    return this.inner.oldestQueuedAt(receiver);
  }
}
