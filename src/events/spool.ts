import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import { LocalSpool } from '../platform/localSpool';
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
// The queue, its file and its moves are platform/localSpool.ts, which the change journal's spool shares.

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
  private readonly spool: LocalSpool<Spooled>;

  constructor(
    private readonly inner: Outbox,
    o: SpoolOptions,
  ) {
    this.spool = new LocalSpool<Spooled>({
      redis: o.redis,
      clock: o.clock,
      logger: o.logger,
      file: o.file,
      max: o.maxSpooled,
      retryMs: o.retryMs,
      label: 'security event',
      messages: {
        moved: 'spooled security events moved to the outbox',
        restored: 'security events spooled before a restart will be sent',
      },
      move: (e) => inner.enqueue(e.receiver, { jti: e.jti, subject: e.subject, jwt: e.jwt }),
      parse: (v) => {
        const e = v as Partial<Spooled> | null;
        return e && typeof e.receiver === 'string' && typeof e.jti === 'string' && typeof e.jwt === 'string'
          ? { receiver: e.receiver, jti: e.jti, subject: String(e.subject), jwt: e.jwt }
          : undefined;
      },
      describe: (e) => ({ receiver: e.receiver, jti: e.jti, subject: e.subject }),
      onLost: (e) => o.onLost(e.receiver, e),
    });
  }

  /** SETs waiting for the shared outbox. */
  get spooled(): number {
    return this.spool.size;
  }

  async enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): Promise<void> {
    if (this.spool.size === 0) {
      try {
        await this.inner.enqueue(receiver, set);
        return;
      } catch {
        // Unreachable: spooled below.
      }
    }
    this.spool.push({ receiver, jti: set.jti, subject: set.subject, jwt: set.jwt });
  }

  /** Moves every spooled SET to the shared outbox, oldest first; stops at the first that cannot move. */
  drain(): Promise<void> {
    return this.spool.drain();
  }

  close(): void {
    this.spool.close();
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
    const mine = this.spool.entries().filter((e) => e.receiver === receiver).length;
    return (await this.inner.depth(receiver)) + mine;
  }
  oldestQueuedAt(receiver: string): Promise<number | undefined> {
    return this.inner.oldestQueuedAt(receiver);
  }
}
