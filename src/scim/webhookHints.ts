import type { Clock, TimerHandle } from '../platform/clock';
import type { KitApi } from '../kit/api';
import { SUBSCRIBER_STATES, type Subscriber, type SubscriberState } from '../kit/types';
import { type ChangeJournal, OwnWritePendingError } from './journal/changeJournal';
import { kitStampOf, learnedFrom } from './journal/lastModifiedOverlay';
import type { LookupSnapshot } from './lookupSnapshot';
import type { SubscriberMirror } from './mirror/subscriberMirror';
import type { RereadBudget } from './webhookRereadBudget';

// What a Kit webhook delivery means to the server: a hint that one subscriber may have changed. Kit does not
// sign deliveries, so nothing in one is believed: the subscriber's state is taken from Kit's API, and the
// delivery only decides whether to ask. When it says what the server already knows (the state in the mirror,
// or the last state the journal saw), nothing is read: the server's own writes come back as deliveries too,
// and re-reading them would double the cost of every deprovision. A forged delivery can therefore cost at most
// one Kit call, never change what the server reports; and forged deliveries together at most the re-read
// budget's share of Kit's, read in the limiter's lowest lane (behind the IdPs and the mirror's walks). Kit's v4
// API has no read of several subscribers by id (its list filters by state, email and dates only), so re-reads
// are deduplicated per subscriber rather than batched. A delivery dropped over the budget is corrected by the
// mirror's next walk.
//
// The server's own writes: each records its intent in the journal before it calls Kit (write-ahead), and Kit's
// delivery for it may come before Kit's answer (Kit sends it from a background job). A delivery whose state
// the server is writing for that subscriber (by id, or by email for a create) is its own write: nothing is
// read and nothing is reported as a change made in Kit.
//
// A delivery admitted but not handled now (Redis away, Kit or the limiter refusing the read) is kept: Kit got
// its 2xx and will not send it again, so it is tried again in the background with backoff (RETRY_DELAYS_MS)
// until it is handled, holding its place among the pending subscribers (the bound still holds). So is one whose
// state a write of the server may explain, until that write's journal entry arrives (OWN_WRITE_WAITS): a
// deactivation made while Redis was away reaches the shared journal from its replica's spool, and its echo
// must not be taken for an unsubscribe in Kit meanwhile.

/** The Kit webhook events the server registers (kit-api-v4 "Create a webhook"). */
export const SUBSCRIBER_STATE_EVENTS = [
  'subscriber.subscriber_activate',
  'subscriber.subscriber_unsubscribe',
  'subscriber.subscriber_bounce',
  'subscriber.subscriber_complain',
] as const;

/**
 * What became of one accepted delivery that was not dropped. `joined`: it arrived while its subscriber was
 * pending and a later delivery for the same subscriber took its place (only the latest is handled).
 */
export type DeliveryOutcome = 'known' | 'read' | 'joined';

/** Why a delivery was dropped: a fixed set, so a metric label never carries what the sender chose. */
export const DELIVERY_DROP_REASONS = ['over_budget', 'pending_full'] as const;
export type DeliveryDropReason = (typeof DELIVERY_DROP_REASONS)[number];

/**
 * Subscribers pending at a time (a delivery being checked against the mirror, a re-read, a hold), a few hundred
 * bytes each. Re-read ones stay for their hold, at most about the budget's share per window; a delivery over the
 * budget leaves at once. So the bound is reached only when deliveries come faster than the mirror can check them
 * (Redis slow), and it keeps memory flat then.
 */
export const MAX_PENDING_SUBSCRIBERS = 1000;

/**
 * Waits before a failed round's next try: short, so a change is reported within seconds of Redis or Kit
 * answering again; the last one repeats until the round is handled.
 */
export const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 3000] as const;

/**
 * Tries a delivery waits for the journal entry of a write of the server that could explain it (a replica's
 * spool reaches Redis about a second after Redis answers it again; changeJournal.ts, LearnedFrom): about 20 s
 * of RETRY_DELAYS_MS. Past them, the state Kit shows is recorded as the delivery's: an entry that late was lost
 * with its replica, and a change made in Kit must not wait for it forever.
 */
export const OWN_WRITE_WAITS = 10;

export interface WebhookHintsDeps {
  kit: KitApi;
  journal: ChangeJournal;
  mirror?: SubscriberMirror;
  snapshot?: LookupSnapshot;
  /** Grants each Kit re-read (webhookRereadBudget.ts); a refused one drops the delivery. */
  budget: Pick<RereadBudget, 'take'>;
  /** How long after its re-read a subscriber's further deliveries wait, joined into one round. */
  holdMs: number;
  clock: Clock;
  maxPending?: number;
  /** Cached walk pages must go. */
  changed: () => Promise<void>;
  now: () => number;
  onError?: (err: Error) => void;
  /** Every accepted delivery (the webhook watch: deliveries still arrive). */
  heard?: () => Promise<void>;
  /** Each accepted delivery that was not dropped, once: did it need a Kit read? */
  handled?: (outcome: DeliveryOutcome) => void;
  /** Each accepted delivery that was dropped, once. */
  dropped?: (reason: DeliveryDropReason) => void;
  /** The field key of the server's stamp in Kit: it names a state in the journal (SubscriberChange.kitStamp). */
  stampKey?: string;
}

/** A subscriber whose delivery is being handled, or who was re-read less than a hold ago. */
interface Pending {
  /** The latest delivery not answered yet: handled in a round of its own after this one (and its hold). */
  next?: Partial<Subscriber>;
  hold?: { timer: TimerHandle; ended: Promise<void>; end: () => void };
  /** A round that failed waits for its next try; `tries` so far. */
  retry?: { timer: TimerHandle; tries: number };
  /** Rounds that waited for the journal entry of a write of the server (OWN_WRITE_WAITS). */
  ownWriteWaits?: number;
}

export class WebhookHints {
  /**
   * One pending handling per subscriber. A delivery for a subscriber already pending joins it: one arriving
   * before the pending read left for Kit is answered by that read; one arriving after it may describe a change
   * the read missed, so the latest such delivery is handled in one more round, once the subscriber's hold
   * (holdMs after its read) has passed. However many deliveries name one subscriber, they cost at most one
   * read per hold.
   */
  private readonly pending = new Map<number, Pending>();
  /** Rounds being handled now (holds excluded), for idle(). */
  private readonly rounds = new Set<Promise<void>>();
  private readonly maxPending: number;
  private delivered = 0;
  private reads = 0;
  private drops = 0;
  private retries = 0;
  private stopped = false;

  constructor(private readonly deps: WebhookHintsDeps) {
    this.maxPending = deps.maxPending ?? MAX_PENDING_SUBSCRIBERS;
  }

  /** Accepts a delivery body; false when it names no subscriber (then nothing is done). */
  accept(body: unknown): boolean {
    const sub = (body as { subscriber?: unknown } | null)?.subscriber as Partial<Subscriber> | undefined;
    const id = sub?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return false;
    const state = SUBSCRIBER_STATES.includes(sub!.state as SubscriberState) ? sub!.state : undefined;
    const email = typeof sub!.email_address === 'string' ? sub!.email_address : undefined;
    const delivered: Partial<Subscriber> = { state, email_address: email };
    this.delivered += 1;
    void this.deps.heard?.().catch((err) => this.deps.onError?.(err as Error));
    const pending = this.pending.get(id);
    if (pending) {
      if (pending.next) this.deps.handled?.('joined');
      pending.next = delivered;
      return true;
    }
    if (this.pending.size >= this.maxPending) {
      this.drop('pending_full');
      return true;
    }
    const entry: Pending = {};
    this.pending.set(id, entry);
    this.round(id, entry, delivered);
    return true;
  }

  /**
   * Resolves when every accepted delivery has been handled: holds are waited out where a delivery waits for
   * one, unless `holds` is false (then only the rounds running now are).
   */
  async idle({ holds = true } = {}): Promise<void> {
    for (;;) {
      const waits = [...this.rounds];
      if (holds) for (const entry of this.pending.values()) if (entry.next && entry.hold) waits.push(entry.hold.ended);
      if (waits.length === 0) return;
      await Promise.allSettled(waits);
    }
  }

  /** No further rounds: the holds end now, their waiting deliveries unhandled (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const entry of this.pending.values()) {
      if (entry.retry) this.deps.clock.clearTimeout(entry.retry.timer);
      if (!entry.hold) continue;
      this.deps.clock.clearTimeout(entry.hold.timer);
      entry.hold.end();
    }
    this.pending.clear();
  }

  /**
   * `held`: deliveries waiting for their subscriber's hold to pass; `retrying`: deliveries waiting for another
   * try; `retries`: tries after a failure so far.
   */
  stats(): { delivered: number; reads: number; dropped: number; held: number; retrying: number; retries: number } {
    let held = 0;
    let retrying = 0;
    for (const entry of this.pending.values()) {
      if (entry.next && entry.hold) held++;
      if (entry.retry) retrying++;
    }
    return { delivered: this.delivered, reads: this.reads, dropped: this.drops, held, retrying, retries: this.retries };
  }

  private round(id: number, entry: Pending, delivered: Partial<Subscriber>, tries = 0): void {
    const done = this.handleRound(id, entry, delivered, tries).finally(() => this.rounds.delete(done));
    this.rounds.add(done);
  }

  private async handleRound(id: number, entry: Pending, delivered: Partial<Subscriber>, tries: number): Promise<void> {
    let outcome: 'known' | 'read' | 'refused' = 'known';
    try {
      // A retried round earned its place when first admitted: the budget refusing it now defers it, as a
      // failure does; only a first round over the budget is dropped (what keeps a flood's cost bounded).
      const decide = (entry.ownWriteWaits ?? 0) >= OWN_WRITE_WAITS;
      outcome = await this.handle(id, delivered, () => this.sent(entry), decide);
      if (outcome === 'refused' && tries > 0) throw new Error('re-read budget spent; tried again later');
      if (outcome === 'refused') this.drop('over_budget');
      else this.deps.handled?.(outcome);
    } catch (err) {
      if (err instanceof OwnWritePendingError) entry.ownWriteWaits = (entry.ownWriteWaits ?? 0) + 1;
      else this.deps.onError?.(err as Error);
      if (!this.stopped) this.retryLater(id, entry, delivered, tries + 1);
      return;
    }
    if (this.stopped) return;
    if (outcome !== 'read') {
      this.next(id, entry);
      return;
    }
    // Kit delivers a change within seconds of it: a change made just after this read comes as a delivery
    // during the hold and gets its round after it.
    let end = () => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    const timer = this.deps.clock.setTimeout(
      () => {
        end();
        this.next(id, entry);
      },
      this.deps.holdMs,
      { background: true },
    );
    entry.hold = { timer, ended, end };
  }

  /**
   * A round that could not be handled: tried again after a backoff, with the latest delivery for the
   * subscriber if one came meanwhile (it says at least as much).
   */
  private retryLater(id: number, entry: Pending, delivered: Partial<Subscriber>, tries: number): void {
    const delay = RETRY_DELAYS_MS[Math.min(tries, RETRY_DELAYS_MS.length) - 1];
    const timer = this.deps.clock.setTimeout(
      () => {
        entry.retry = undefined;
        if (this.stopped) return;
        this.retries += 1;
        const latest = entry.next ?? delivered;
        entry.next = undefined;
        this.round(id, entry, latest, tries);
      },
      delay,
      { background: true },
    );
    entry.retry = { timer, tries };
  }

  /** The subscriber's next round, if a delivery is waiting; else it is no longer pending. */
  private next(id: number, entry: Pending): void {
    entry.hold = undefined;
    const delivered = entry.next;
    entry.next = undefined;
    if (delivered && !this.stopped) this.round(id, entry, delivered);
    else this.pending.delete(id);
  }

  /** The round's read left for Kit: the deliveries that arrived before it are answered by it. */
  private sent(entry: Pending): void {
    if (entry.next) this.deps.handled?.('joined');
    entry.next = undefined;
  }

  private drop(reason: DeliveryDropReason): void {
    this.drops += 1;
    this.deps.dropped?.(reason);
  }

  /** Whether the re-read is granted (and counted). */
  private admit(): boolean {
    if (!this.deps.budget.take()) return false;
    this.reads += 1;
    return true;
  }

  private async handle(
    id: number,
    delivered: Partial<Subscriber>,
    onSent: () => void,
    decide: boolean,
  ): Promise<'known' | 'read' | 'refused'> {
    if (
      delivered.state !== undefined &&
      (await this.deps.journal.intended(id, delivered.email_address, delivered.state))
    )
      return 'known';
    if (this.deps.mirror) {
      const outcome = await this.deps.mirror.hint(id, delivered, { admit: () => this.admit(), onSent, decide });
      if (outcome === 'read') await this.deps.snapshot?.forget({ id, email: delivered.email_address });
      return outcome;
    }
    const known = await this.deps.journal.lastState(id);
    if (delivered.state !== undefined && known === delivered.state) return 'known';
    if (!this.admit()) return 'refused';
    const fresh = await this.deps.kit.subscribers.find(id, { priority: 'webhook', onSent });
    if (!fresh) return 'read';
    await this.deps.snapshot?.forget({ id, email: fresh.email_address });
    const change = {
      subscriberId: id,
      at: this.deps.now(),
      kind: 'state',
      source: 'webhook',
      state: fresh.state,
      ...(this.deps.stampKey && { kitStamp: kitStampOf(fresh, this.deps.stampKey) }),
    } as const;
    const learned = learnedFrom(fresh, this.deps.stampKey, decide);
    if (known === undefined) {
      // Never seen before: the delivery is the change (when Kit confirms its state).
      if (delivered.state === undefined || fresh.state === delivered.state)
        await this.deps.journal.record(change, learned);
    } else if (known !== fresh.state) {
      await this.deps.journal.record(change, learned);
    } else return 'read';
    await this.deps.changed();
    return 'read';
  }
}
