import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from './clock';
import type { RedisLink } from './redisLink';

// Entries written while the shared store (Redis) cannot be reached wait here, on this replica, and are moved to
// it when it answers again, oldest first (so in order per subject): a move stops at the first entry that cannot
// move, and the rest waits for the link's recovery or the next retry.
//
// With a file, each entry is appended to it before push() returns, so a process that stops while Redis is away
// moves them after its restart; the file is rewritten with what is left after each move. A crash between a move
// and that rewrite moves an entry twice: its owner makes a second move of the same entry harmless (the outbox
// keys SETs by jti, the journal its feed entries by their own sequence).
//
// Bounded: past `max` an entry is not spooled but lost, and each lost one is told (a log line here, and the
// owner's `onLost`: a metric and an audit record), never silently. The newest is the one lost: the file only
// grows at its end.

export interface LocalSpoolOptions<T> {
  redis: RedisLink;
  clock: Clock;
  logger: Logger;
  /** The append-only file; undefined: in memory only. */
  file?: string;
  max: number;
  /** How often a non-empty spool tries to move its entries when no recovery was signalled. */
  retryMs?: number;
  /** What an entry is, in log lines ("security event", "journal entry"). */
  label: string;
  /** The log lines of a move ("spooled security events moved to the outbox") and of a restart's spool file. */
  messages: { moved: string; restored: string };
  /** Moves one entry to the shared store; throws while it cannot. */
  move: (entry: T) => Promise<void>;
  /** An entry read back from the file, or undefined for a line that holds none. */
  parse: (value: unknown) => T | undefined;
  /** The fields that name an entry in the log line of its loss (never a secret, never a signed token). */
  describe: (entry: T) => Record<string, unknown>;
  onLost: (entry: T) => void;
}

export class LocalSpool<T> {
  private readonly pending: T[] = [];
  private moving?: Promise<void>;
  private timer?: TimerHandle;
  private readonly offRecovery: () => void;
  private closed = false;

  constructor(private readonly o: LocalSpoolOptions<T>) {
    if (o.file && existsSync(o.file)) this.load(o.file);
    this.offRecovery = o.redis.onRecovery(() => void this.drain());
    if (this.pending.length > 0) this.schedule();
  }

  /** Entries waiting for the shared store. */
  get size(): number {
    return this.pending.length;
  }

  /** The waiting entries, oldest first. */
  entries(): readonly T[] {
    return this.pending;
  }

  /** Keeps an entry until it can move; false: the spool is full and the entry is lost (and told). */
  push(entry: T): boolean {
    if (this.pending.length >= this.o.max) {
      this.o.logger.error(
        this.o.describe(entry),
        `${this.o.label} lost: Redis is unreachable and the local spool is full`,
      );
      this.o.onLost(entry);
      return false;
    }
    if (this.o.file) {
      try {
        appendFileSync(this.o.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      } catch (err) {
        // Kept in memory regardless: lost only if this process stops before Redis returns.
        this.o.logger.error({ err: { message: (err as Error).message } }, `${this.o.label} spool file not written`);
      }
    }
    this.pending.push(entry);
    this.schedule();
    return true;
  }

  /** Moves every spooled entry to the shared store, oldest first; stops at the first that cannot move. */
  drain(): Promise<void> {
    if (this.moving) return this.moving;
    if (this.pending.length === 0) return Promise.resolve();
    this.moving = this.moveAll().finally(() => {
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

  private async moveAll(): Promise<void> {
    let moved = 0;
    try {
      while (this.pending.length > 0) {
        await this.o.move(this.pending[0]!);
        this.pending.shift();
        moved++;
      }
    } catch {
      // Redis went away again: the rest waits for the next try.
    } finally {
      if (moved > 0) {
        this.rewrite();
        this.o.logger.info({ moved, left: this.pending.length }, this.o.messages.moved);
      }
    }
  }

  private rewrite(): void {
    if (!this.o.file) return;
    try {
      const tmp = `${this.o.file}.tmp`;
      writeFileSync(tmp, this.pending.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
      renameSync(tmp, this.o.file);
    } catch (err) {
      // The file still holds moved entries: a restart moves them once more, which their owner makes harmless.
      this.o.logger.error({ err: { message: (err as Error).message } }, `${this.o.label} spool file not rewritten`);
    }
  }

  private load(file: string): void {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let entry: T | undefined;
      try {
        entry = this.o.parse(JSON.parse(line));
      } catch {
        entry = undefined;
      }
      // A line cut short by a crash mid-append: the entry it held was never acknowledged to anyone.
      if (entry === undefined) this.o.logger.warn({ file }, `${this.o.label} spool: an unreadable line skipped`);
      else this.pending.push(entry);
    }
    if (this.pending.length > 0) this.o.logger.warn({ spooled: this.pending.length }, this.o.messages.restored);
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
}
