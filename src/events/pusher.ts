import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { Outbox, QueuedSet } from './outbox';

// RFC 8935 push delivery: each SET is POSTed as `application/secevent+jwt` to the receiver's endpoint, one at a
// time and in queue order, so a receiver sees the SETs of one subject in the order they were made (head-of-line:
// a SET that cannot be delivered holds back the ones after it, which is what per-subject order costs when a
// receiver is down).
//
// Outcomes (RFC 8935 §2.2–§2.4): 202 delivered. 400 with an RFC 8935 error body (`err`: invalid_request,
// invalid_key, invalid_issuer, invalid_audience, …) is the receiver refusing this SET for good: it is settled as
// failed and logged by its code, never retried. 401/403, 5xx, 429 and network failures are transient: retried with
// jittered exponential backoff. A SET still undelivered `deadLetterMs` after it was queued is dead-lettered
// (a metric and an audit line) so one broken receiver cannot hold the others' order forever.

export interface PushTarget {
  receiver: string;
  url: string;
  /** Sent as Authorization: Bearer (the receiver's own token for this transmitter). */
  token: string;
}

export interface PusherOptions {
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  deadLetterMs: number;
  timeoutMs: number;
  backoff: { baseMs: number; maxMs: number };
  /** 0..1 → jitter; injected so tests are deterministic. */
  random?: () => number;
  onDelivered?: (receiver: string, set: QueuedSet, ms: number) => void;
  onFailed?: (receiver: string, set: QueuedSet, err: string) => void;
  onDeadLetter?: (receiver: string, set: QueuedSet) => void;
}

export class SetPusher {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly sleeping = new Set<() => void>();

  constructor(
    private readonly targets: PushTarget[],
    private readonly o: PusherOptions,
  ) {}

  start(): void {
    for (const t of this.targets) this.loops.push(this.run(t));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.outbox.wakeAll();
    for (const wake of [...this.sleeping]) wake();
    await Promise.allSettled(this.loops);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.o.clock.clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve();
      };
      const timer = this.o.clock.setTimeout(wake, ms);
      this.sleeping.add(wake);
    });
  }

  private async run(t: PushTarget): Promise<void> {
    while (!this.stopped) {
      let next: QueuedSet | undefined;
      try {
        [next] = await this.o.outbox.take(t.receiver, 1);
      } catch (err) {
        this.o.logger.warn({ err: { message: (err as Error).message }, receiver: t.receiver }, 'outbox unavailable');
      }
      if (!next) {
        // Woken by a SET queued in this process; SETs other replicas queued are seen within a second.
        await this.o.outbox.waitFor(t.receiver, 1_000);
        continue;
      }
      try {
        await this.deliver(t, next);
      } catch (err) {
        // The outbox failed mid-delivery (Redis away or failing over): the SET stays queued under its lease and
        // is taken again when the lease ends, by this replica or another; a re-send carries the same jti.
        this.o.logger.warn({ err: { message: (err as Error).message }, receiver: t.receiver }, 'outbox unavailable');
        await this.o.outbox.waitFor(t.receiver, 1_000);
      }
    }
  }

  /** Delivers one SET, retrying until delivered, refused for good, dead-lettered or stopped. */
  private async deliver(t: PushTarget, set: QueuedSet): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      if (this.o.clock.now() - set.queuedAt > this.o.deadLetterMs) {
        await this.o.outbox.settle(t.receiver, [set.jti]);
        this.o.onDeadLetter?.(t.receiver, set);
        return;
      }
      const started = this.o.clock.now();
      const outcome = await this.post(t, set);
      if (outcome.kind === 'delivered') {
        await this.o.outbox.settle(t.receiver, [set.jti]);
        this.o.onDelivered?.(t.receiver, set, this.o.clock.now() - started);
        return;
      }
      if (outcome.kind === 'refused') {
        await this.o.outbox.settle(t.receiver, [set.jti]);
        this.o.onFailed?.(t.receiver, set, outcome.err);
        this.o.logger.warn(
          { receiver: t.receiver, jti: set.jti, err: outcome.err },
          'security event refused by its receiver (RFC 8935 error); not retried',
        );
        return;
      }
      // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): receivers coming back are not hit
      // by every transmitter at once.
      const cap = Math.min(this.o.backoff.maxMs, this.o.backoff.baseMs * 2 ** Math.min(attempt, 20));
      const wait = Math.max(1, Math.floor((this.o.random ?? Math.random)() * cap));
      this.o.logger.debug({ receiver: t.receiver, status: outcome.status, wait }, 'SET push failed; retrying');
      // Keep the lease while retrying: no poller takes it meanwhile.
      await this.o.outbox.extendLease(t.receiver, set.jti, this.o.clock.now() + wait + this.o.timeoutMs * 2);
      await this.sleep(wait);
      // Dropped from a full outbox meanwhile (already counted and audited there): nothing left to deliver.
      if (!(await this.o.outbox.has(t.receiver, set.jti))) return;
    }
  }

  private async post(
    t: PushTarget,
    set: QueuedSet,
  ): Promise<{ kind: 'delivered' } | { kind: 'refused'; err: string } | { kind: 'retry'; status: number | string }> {
    try {
      const res = await fetch(t.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/secevent+jwt',
          Accept: 'application/json',
          Authorization: `Bearer ${t.token}`,
        },
        body: set.jwt,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'error',
      });
      const text = await res.text().catch(() => '');
      if (res.status === 202 || res.status === 200) return { kind: 'delivered' };
      if (res.status === 400) {
        let err = 'invalid_request';
        try {
          const body = JSON.parse(text) as { err?: unknown };
          if (typeof body.err === 'string') err = body.err.slice(0, 64);
        } catch {
          // A 400 without the RFC 8935 body is still the receiver refusing this SET.
        }
        return { kind: 'refused', err };
      }
      return { kind: 'retry', status: res.status };
    } catch (err) {
      return { kind: 'retry', status: (err as Error).name };
    }
  }
}
