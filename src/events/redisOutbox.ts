import type { Clock, TimerHandle } from '../platform/clock';
import type { RedisLink } from '../platform/redisLink';
import { type Outbox, type QueuedSet, Waiters } from './outbox';

// The outbox shared by every replica and kept across restarts (REDIS_URL). Per receiver, under the service's
// prefix:
// - `events:<receiver>:q`, a sorted set of jtis scored by a per-receiver sequence (queue order);
// - `events:<receiver>:d`, a hash jti → {subject, jwt, queuedAt};
// - `events:<receiver>:l`, a hash jti → lease end (ms);
// - `events:<receiver>:seq`, the sequence.
// Every step is one Lua script, so two replicas taking at once never lease one SET twice (a SET is delivered
// to its receiver by one replica at a time; again only once its lease ends unacknowledged: at least once, and
// receivers dedupe by jti).
//
// Across a failover (sentinel, cluster): an enqueue the old primary acknowledged but had not passed to its
// replica is gone once the replica is promoted. Waiting for a replica (WAIT) inside each enqueue would hold the
// publisher's chain a replication round trip per SET, and the full ack timeout per SET while a primary has no
// replica. Instead each SET is kept here until a replica has acknowledged it: one WAIT after a batch of
// enqueues confirms every write made before it on that connection (Redis replicates in order). When the link
// comes back to another primary (RedisLink.onFailover), every SET not yet confirmed is queued again under its
// own jti, where it is missing (a SET delivered and settled meanwhile comes once more: receivers dedupe by jti).
// Bounded like the memory outbox: past `maxEvents` the oldest is dropped and returned
// for the metric and the audit line.

// ARGV[4] = '1': only if the SET is not queued already (a re-announce after a failover keeps a SET's place).
const ENQUEUE_LUA = `
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {} end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local dropped = {}
local n = redis.call('ZCARD', KEYS[1])
if n > tonumber(ARGV[3]) then
  local popped = redis.call('ZPOPMIN', KEYS[1], n - tonumber(ARGV[3]))
  for i = 1, #popped, 2 do
    local d = redis.call('HGET', KEYS[2], popped[i])
    redis.call('HDEL', KEYS[2], popped[i])
    redis.call('HDEL', KEYS[3], popped[i])
    if d then table.insert(dropped, popped[i]); table.insert(dropped, d) end
  end
end
return dropped`;

// Leases up to ARGV[3] SETs whose lease ended, oldest first, among the first ARGV[4] queued; a subject with an
// earlier SET still leased is skipped (order per subject). ARGV[5] = '1': look only, lease nothing.
const TAKE_LUA = `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local blocked = {}
local out = {}
local taken = 0
for _, id in ipairs(ids) do
  if taken >= tonumber(ARGV[3]) then break end
  local d = redis.call('HGET', KEYS[2], id)
  if d then
    local subject = cjson.decode(d).subject
    if not blocked[subject] then
      local lease = tonumber(redis.call('HGET', KEYS[3], id) or '0')
      if lease > now then
        blocked[subject] = true
      else
        if ARGV[5] ~= '1' then redis.call('HSET', KEYS[3], id, now + tonumber(ARGV[2])) end
        table.insert(out, id)
        table.insert(out, d)
        taken = taken + 1
      end
    end
  end
end
return out`;

const SETTLE_LUA = `
local out = {}
for i = 1, #ARGV do
  local d = redis.call('HGET', KEYS[2], ARGV[i])
  if d then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    table.insert(out, ARGV[i])
    table.insert(out, d)
  end
end
return out`;

export interface RedisOutboxOptions {
  clock: Clock;
  /** Key prefix, unique per Kit account (so per service). */
  prefix: string;
  maxEvents: number;
  leaseMs: number;
  /** How far down a receiver's queue one take looks for SETs not held back by their subject's earlier SET. */
  scanDepth?: number;
  onDrop?: (receiver: string, dropped: QueuedSet) => void;
}

type Stored = { subject: string; jwt: string; queuedAt: number };

/** A SET queued on a primary and not yet known to be on a replica; `failovers`: the link's count when written. */
type Unconfirmed = { receiver: string; jti: string; stored: string; failovers: number };

/** How often SETs still unconfirmed (a primary without a replica) are confirmed again. */
const CONFIRM_RETRY_MS = 1000;
/**
 * How long one confirming WAIT may block the shared connection (every later command waits behind it). Short: a
 * replica answers within a millisecond or two, and what it has not acknowledged yet is asked again a second later.
 */
const CONFIRM_ACK_TIMEOUT_MS = 50;

export class RedisOutbox implements Outbox {
  private readonly waiters: Waiters;
  /** Keyed by receiver and jti, in the order queued. */
  private readonly unconfirmed = new Map<string, Unconfirmed>();
  private confirming?: Promise<void>;
  private confirmAgain = false;
  private retryTimer?: TimerHandle;
  private readonly offFailover: () => void;
  private closed = false;

  constructor(
    private readonly redis: RedisLink,
    private readonly o: RedisOutboxOptions,
  ) {
    this.waiters = new Waiters(o.clock);
    this.offFailover = redis.onFailover(() => void this.confirm());
  }

  /** SETs queued but not yet acknowledged by a replica (always 0 on a standalone Redis). */
  get unconfirmedCount(): number {
    return this.unconfirmed.size;
  }

  /** Re-queues what a failover may have lost, then confirms what is queued; resolves when this round is done. */
  confirm(): Promise<void> {
    if (this.confirming) {
      this.confirmAgain = true;
      return this.confirming;
    }
    this.confirming = this.confirmRound().finally(() => {
      this.confirming = undefined;
      if (this.confirmAgain) {
        this.confirmAgain = false;
        void this.confirm();
      } else if (this.unconfirmed.size > 0) this.scheduleConfirm();
    });
    return this.confirming;
  }

  close(): void {
    this.closed = true;
    this.offFailover();
    this.o.clock.clearTimeout(this.retryTimer);
  }

  private scheduleConfirm(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = this.o.clock.setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.confirm();
      },
      CONFIRM_RETRY_MS,
      { background: true },
    );
  }

  private async confirmRound(): Promise<void> {
    try {
      const failovers = this.redis.failovers;
      // Written before the last failover: queue again where missing, under the same jti.
      for (const u of this.unconfirmed.values()) {
        if (u.failovers >= failovers) continue;
        const dropped = await this.redis.run((c) =>
          c.eval(ENQUEUE_LUA, 4, ...this.keys(u.receiver), u.jti, u.stored, this.o.maxEvents, '1'),
        );
        for (const d of RedisOutbox.sets(dropped)) this.o.onDrop?.(u.receiver, d);
        u.failovers = failovers;
      }
      // One WAIT per receiver (its keys are one hash slot: one shard) confirms all written before it.
      const receivers = new Set([...this.unconfirmed.values()].map((u) => u.receiver));
      for (const receiver of receivers) {
        const pending = [...this.unconfirmed.entries()].filter(([, u]) => u.receiver === receiver);
        const { replicated } = await this.redis.runReplicated(
          (p) => p.zcard(this.keys(receiver)[0]!),
          CONFIRM_ACK_TIMEOUT_MS,
        );
        if (!replicated || this.redis.failovers !== failovers) continue;
        for (const [key] of pending) this.unconfirmed.delete(key);
      }
    } catch {
      // Redis away or failing over: the next round (retry timer, or the failover itself) repairs.
    }
  }

  private keep(receiver: string, jti: string, stored: string): void {
    if (!this.redis.confirmsReplication) return;
    const key = `${receiver}\u0000${jti}`;
    this.unconfirmed.delete(key);
    this.unconfirmed.set(key, { receiver, jti, stored, failovers: this.redis.failovers });
    // Bounded like the outbox itself: past it the oldest is no longer guarded (it is most likely replicated).
    while (this.unconfirmed.size > this.o.maxEvents) this.unconfirmed.delete(this.unconfirmed.keys().next().value!);
    void this.confirm();
  }

  private keys(receiver: string): string[] {
    const base = `${this.o.prefix}events:${receiver}:`;
    return [`${base}q`, `${base}d`, `${base}l`, `${base}seq`];
  }

  private static sets(flat: unknown): QueuedSet[] {
    const list = flat as string[];
    const out: QueuedSet[] = [];
    for (let i = 0; i < list.length; i += 2) {
      const d = JSON.parse(list[i + 1]!) as Stored;
      out.push({ jti: list[i]!, subject: d.subject, jwt: d.jwt, queuedAt: d.queuedAt, leasedUntil: 0 });
    }
    return out;
  }

  async enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): Promise<void> {
    const stored = JSON.stringify({
      subject: set.subject,
      jwt: set.jwt,
      queuedAt: this.o.clock.now(),
    } satisfies Stored);
    const dropped = await this.redis.run((c) =>
      c.eval(ENQUEUE_LUA, 4, ...this.keys(receiver), set.jti, stored, this.o.maxEvents, '0'),
    );
    this.keep(receiver, set.jti, stored);
    for (const d of RedisOutbox.sets(dropped)) this.o.onDrop?.(receiver, d);
    this.waiters.wake(receiver);
  }

  private async scan(receiver: string, max: number, lookOnly: boolean): Promise<QueuedSet[]> {
    const depth = this.o.scanDepth ?? Math.max(1000, max * 4);
    const now = this.o.clock.now();
    const flat = await this.redis.run((c) =>
      c.eval(TAKE_LUA, 3, ...this.keys(receiver).slice(0, 3), now, this.o.leaseMs, max, depth, lookOnly ? '1' : '0'),
    );
    return RedisOutbox.sets(flat).map((s) => ({ ...s, leasedUntil: lookOnly ? 0 : now + this.o.leaseMs }));
  }

  take(receiver: string, max: number): Promise<QueuedSet[]> {
    return this.scan(receiver, max, false);
  }

  async available(receiver: string): Promise<boolean> {
    return (await this.scan(receiver, 1, true)).length > 0;
  }

  async settle(receiver: string, jtis: string[]): Promise<QueuedSet[]> {
    if (jtis.length === 0) return [];
    const flat = await this.redis.run((c) => c.eval(SETTLE_LUA, 3, ...this.keys(receiver).slice(0, 3), ...jtis));
    // Delivered: a failover that loses the SET loses nothing the receiver lacks.
    for (const jti of jtis) this.unconfirmed.delete(`${receiver}\u0000${jti}`);
    return RedisOutbox.sets(flat);
  }

  async has(receiver: string, jti: string): Promise<boolean> {
    return (await this.redis.run((c) => c.hexists(this.keys(receiver)[1]!, jti))) === 1;
  }

  async extendLease(receiver: string, jti: string, until: number): Promise<void> {
    // Only while the SET is still queued: a lease outliving its SET would be an orphan key.
    await this.redis.run((c) =>
      c.eval(
        "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end return 1",
        2,
        this.keys(receiver)[1]!,
        this.keys(receiver)[2]!,
        jti,
        String(until),
      ),
    );
  }

  waitFor(receiver: string, ms: number): Promise<void> {
    return this.waiters.waitFor(receiver, ms);
  }

  wakeAll(): void {
    this.waiters.wakeAll();
  }

  depth(receiver: string): Promise<number> {
    return this.redis.run((c) => c.zcard(this.keys(receiver)[0]!));
  }

  async oldestQueuedAt(receiver: string): Promise<number | undefined> {
    const [q, d] = this.keys(receiver);
    const [first] = await this.redis.run((c) => c.zrange(q!, 0, 0));
    if (first === undefined) return undefined;
    const stored = await this.redis.run((c) => c.hget(d!, first));
    return stored ? (JSON.parse(stored) as Stored).queuedAt : undefined;
  }
}
