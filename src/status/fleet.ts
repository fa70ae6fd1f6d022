import type { Clock, TimerHandle } from '../platform/clock';
import type { Readiness } from '../platform/readiness';
import type { RedisLink } from '../platform/redisLink';
import type { KitLimiter } from '../kit/limiter';
import type { StatusBoard } from './statusBoard';

// The replicas of one tenant as the status page lists them. Each replica publishes its own row into Redis on a
// short heartbeat, as a key that expires: a replica that stops (crashed, scaled down) keeps its last row, with
// its "last seen" ageing, until the key's TTL ends, then drops off the page. An index set names the rows; a name
// whose row has expired is taken out of it by whoever reads it.

export const HEARTBEAT_MS = 5_000;
export const REPLICA_TTL_MS = 60_000;

/** One replica's figures, as it last published them. */
export interface ReplicaRow {
  /** host · pid: names the process, not only the machine (two replicas may share a host). */
  replica: string;
  /** Epoch ms, on the publishing replica's clock. */
  lastSeen: number;
  queued: number;
  /** Calls that left this replica's queue in the last hour, the mean and longest wait for their slot. */
  waits: number;
  meanWaitMs: number;
  maxWaitMs: number;
  /** 429 answers Kit gave this replica in the last hour. */
  rateLimited: number;
  ready: boolean;
  /** Whether this replica booked its slots in the shared book (false: its fallback budget). */
  shared: boolean;
}

export class ReplicaRoster {
  private readonly indexKey: string;
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly opts: {
      link: RedisLink;
      /** The tenant's key prefix (every replica of the tenant uses the same). */
      prefix: string;
      clock: Clock;
      /** This replica's row as of now. */
      row: () => Omit<ReplicaRow, 'lastSeen'>;
      heartbeatMs?: number;
      ttlMs?: number;
    },
  ) {
    this.indexKey = `${opts.prefix}replicas`;
  }

  /** Publishes now and then every heartbeat, until stop(). */
  start(): void {
    if (this.stopped || this.timer) return;
    const beat = () => {
      void this.publish().finally(() => {
        if (!this.stopped) this.timer = this.opts.clock.setTimeout(beat, this.heartbeatMs, { background: true });
      });
    };
    beat();
  }

  stop(): void {
    this.stopped = true;
    this.opts.clock.clearTimeout(this.timer);
  }

  /** Writes this replica's row; Redis away: nothing (the page then says it shows this replica only). */
  async publish(): Promise<void> {
    const row: ReplicaRow = { ...this.opts.row(), lastSeen: this.opts.clock.now() };
    const ttl = this.opts.ttlMs ?? REPLICA_TTL_MS;
    await this.opts.link
      .run((c) =>
        c
          .multi()
          .set(this.rowKey(row.replica), JSON.stringify(row), 'PX', ttl)
          .sadd(this.indexKey, row.replica)
          .pexpire(this.indexKey, ttl * 2)
          .exec(),
      )
      .catch(() => undefined);
  }

  /** Every replica whose row has not expired, by name; undefined when Redis cannot be read. */
  async rows(): Promise<ReplicaRow[] | undefined> {
    try {
      return await this.opts.link.run(async (c) => {
        const names = (await c.smembers(this.indexKey)).sort();
        if (names.length === 0) return [];
        const values = await c.mget(names.map((n) => this.rowKey(n)));
        const gone = names.filter((_, i) => values[i] === null);
        if (gone.length) await c.srem(this.indexKey, ...gone);
        return values.flatMap((v) => (v === null ? [] : [JSON.parse(v) as ReplicaRow]));
      });
    } catch {
      return undefined;
    }
  }

  private get heartbeatMs(): number {
    return this.opts.heartbeatMs ?? HEARTBEAT_MS;
  }

  private rowKey(replica: string): string {
    return `${this.opts.prefix}replica:${replica}`;
  }
}

/** This replica's row from what it measures: its limiter, its status board's hour and its readiness. */
export function replicaRowOf(parts: {
  replica: string;
  board: StatusBoard;
  limiter: Pick<KitLimiter, 'counts' | 'shared'>;
  readiness: Pick<Readiness, 'report'>;
}): Omit<ReplicaRow, 'lastSeen'> {
  const minutes = parts.board.snapshot().minutes;
  const waits = minutes.reduce((n, m) => n + m.waits, 0);
  const waitMs = minutes.reduce((n, m) => n + m.totalWaitMs, 0);
  return {
    replica: parts.replica,
    queued: parts.limiter.counts().queued,
    waits,
    meanWaitMs: waits ? Math.round(waitMs / waits) : 0,
    maxWaitMs: Math.round(Math.max(0, ...minutes.map((m) => m.maxWaitMs))),
    rateLimited: minutes.reduce((n, m) => n + m.rateLimited, 0),
    ready: parts.readiness.report().status === 'ok',
    shared: parts.limiter.shared,
  };
}
