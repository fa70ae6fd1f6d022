import type { Clock } from '../platform/clock';

// Per-receiver queues of signed SETs waiting for delivery. In memory: one process's, lost on restart (the server
// says so loudly at start-up; a durable outbox in Redis is not built yet, see README "Security events").
//
// Bounded: past `maxEvents` per receiver the oldest SET is dropped (`onDrop`: a metric and an audit line), so a
// receiver that never comes back can never block provisioning or grow the heap. A SET handed to a poller is
// leased for `leaseMs` (not handed out again meanwhile); unacknowledged when the lease ends, it is offered again
// (RFC 8936 §2.4: a transmitter may re-send SETs not acknowledged). Receivers dedupe by `jti`.

export interface QueuedSet {
  jti: string;
  /** The resource the SET is about; SETs of one subject leave in the order they were queued. */
  subject: string;
  jwt: string;
  queuedAt: number;
  /** Lease end of the last hand-out; 0: never handed out. */
  leasedUntil: number;
}

export interface OutboxOptions {
  clock: Clock;
  maxEvents: number;
  leaseMs: number;
  onDrop?: (receiver: string, dropped: QueuedSet) => void;
}

/**
 * What the publisher, the poll endpoint and the pusher need of an outbox: in memory (below) or in Redis
 * (redisOutbox.ts, shared by replicas and kept across restarts). Every method may reject (Redis away).
 */
export interface Outbox {
  enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): Promise<void>;
  take(receiver: string, max: number): Promise<QueuedSet[]>;
  settle(receiver: string, jtis: string[]): Promise<QueuedSet[]>;
  available(receiver: string): Promise<boolean>;
  has(receiver: string, jti: string): Promise<boolean>;
  /** Holds a SET's lease until `until` (a pusher retrying it). */
  extendLease(receiver: string, jti: string, until: number): Promise<void>;
  /** Resolves when a SET is queued for the receiver in this process, or `ms` passed. */
  waitFor(receiver: string, ms: number): Promise<void>;
  wakeAll(): void;
  depth(receiver: string): Promise<number>;
  oldestQueuedAt(receiver: string): Promise<number | undefined>;
}

/** Local wake-ups for long polls and pushers waiting on a receiver's queue. */
export class Waiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly clock: Clock) {}

  wake(receiver: string): void {
    for (const wake of [...(this.waiters.get(receiver) ?? [])]) wake();
  }

  wakeAll(): void {
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
  }

  waitFor(receiver: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(receiver) ?? new Set();
      this.waiters.set(receiver, set);
      const wake = () => {
        this.clock.clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = this.clock.setTimeout(wake, ms);
      set.add(wake);
    });
  }
}

/** The synchronous in-memory queues; `MemoryOutbox` is their async face. */
export class MemoryQueues {
  private readonly queues = new Map<string, Map<string, QueuedSet>>();
  readonly waiters: Waiters;

  constructor(private readonly opts: OutboxOptions) {
    this.waiters = new Waiters(opts.clock);
  }

  private queue(receiver: string): Map<string, QueuedSet> {
    let q = this.queues.get(receiver);
    if (!q) this.queues.set(receiver, (q = new Map()));
    return q;
  }

  enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): void {
    const q = this.queue(receiver);
    q.set(set.jti, { ...set, queuedAt: this.opts.clock.now(), leasedUntil: 0 });
    while (q.size > this.opts.maxEvents) {
      const oldest = q.values().next().value as QueuedSet;
      q.delete(oldest.jti);
      this.opts.onDrop?.(receiver, oldest);
    }
    this.waiters.wake(receiver);
  }

  /**
   * Up to `max` SETs not leased to anyone, oldest first, leased now. A SET whose subject has an earlier SET still
   * leased (handed out, not acknowledged) waits behind it: per-subject order holds across redeliveries.
   */
  take(receiver: string, max: number): QueuedSet[] {
    const now = this.opts.clock.now();
    const out: QueuedSet[] = [];
    const blocked = new Set<string>();
    for (const s of this.queue(receiver).values()) {
      if (out.length >= max) break;
      if (blocked.has(s.subject)) continue;
      if (s.leasedUntil > now) {
        blocked.add(s.subject);
        continue;
      }
      s.leasedUntil = now + this.opts.leaseMs;
      out.push(s);
    }
    return out;
  }

  /** Removes acknowledged (or rejected: setErrs) SETs; unknown jtis are ignored (a duplicate ack). */
  settle(receiver: string, jtis: string[]): QueuedSet[] {
    const q = this.queue(receiver);
    const settled: QueuedSet[] = [];
    for (const jti of jtis) {
      const s = q.get(jti);
      if (s) {
        q.delete(jti);
        settled.push(s);
      }
    }
    return settled;
  }

  /** Whether a take() now would return something. */
  available(receiver: string): boolean {
    const now = this.opts.clock.now();
    for (const s of this.queue(receiver).values()) if (s.leasedUntil <= now) return true;
    return false;
  }

  has(receiver: string, jti: string): boolean {
    return this.queue(receiver).has(jti);
  }

  extendLease(receiver: string, jti: string, until: number): void {
    const s = this.queue(receiver).get(jti);
    if (s) s.leasedUntil = Math.max(s.leasedUntil, until);
  }

  depth(receiver: string): number {
    return this.queue(receiver).size;
  }

  /** Queue time of the oldest SET not yet acknowledged (undefined: none). */
  oldestQueuedAt(receiver: string): number | undefined {
    return this.queue(receiver).values().next().value?.queuedAt;
  }
}

export class MemoryOutbox implements Outbox {
  readonly queues: MemoryQueues;

  constructor(opts: OutboxOptions) {
    this.queues = new MemoryQueues(opts);
  }

  async enqueue(receiver: string, set: Omit<QueuedSet, 'leasedUntil' | 'queuedAt'>): Promise<void> {
    this.queues.enqueue(receiver, set);
  }
  async take(receiver: string, max: number): Promise<QueuedSet[]> {
    return this.queues.take(receiver, max);
  }
  async settle(receiver: string, jtis: string[]): Promise<QueuedSet[]> {
    return this.queues.settle(receiver, jtis);
  }
  async available(receiver: string): Promise<boolean> {
    return this.queues.available(receiver);
  }
  async has(receiver: string, jti: string): Promise<boolean> {
    return this.queues.has(receiver, jti);
  }
  async extendLease(receiver: string, jti: string, until: number): Promise<void> {
    this.queues.extendLease(receiver, jti, until);
  }
  waitFor(receiver: string, ms: number): Promise<void> {
    return this.queues.waiters.waitFor(receiver, ms);
  }
  wakeAll(): void {
    this.queues.waiters.wakeAll();
  }
  async depth(receiver: string): Promise<number> {
    return this.queues.depth(receiver);
  }
  async oldestQueuedAt(receiver: string): Promise<number | undefined> {
    return this.queues.oldestQueuedAt(receiver);
  }
}
