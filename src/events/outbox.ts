import type { Clock } from '../clock';

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

export class MemoryOutbox {
  private readonly queues = new Map<string, Map<string, QueuedSet>>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly opts: OutboxOptions) {}

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
    for (const wake of [...(this.waiters.get(receiver) ?? [])]) wake();
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

  /** Resolves when a SET is queued for the receiver, or `ms` passed (long polling, RFC 8936 §2.4). */
  waitFor(receiver: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(receiver) ?? new Set();
      this.waiters.set(receiver, set);
      const wake = () => {
        this.opts.clock.clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = this.opts.clock.setTimeout(wake, ms);
      set.add(wake);
    });
  }

  /** Wakes every long poll (shutdown). */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
  }

  has(receiver: string, jti: string): boolean {
    return this.queue(receiver).has(jti);
  }

  depth(receiver: string): number {
    return this.queue(receiver).size;
  }

  /** Queue time of the oldest SET not yet acknowledged (undefined: none). */
  oldestQueuedAt(receiver: string): number | undefined {
    return this.queue(receiver).values().next().value?.queuedAt;
  }
}
