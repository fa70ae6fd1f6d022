import type { KitApi } from '../kit/api';
import { SUBSCRIBER_STATES, type Subscriber, type SubscriberState } from '../kit/types';
import type { ChangeJournal } from './journal/changeJournal';
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
// are deduplicated per subscriber rather than batched. A dropped delivery's subscriber is corrected by the
// mirror's next walk.

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
 * Subscribers whose delivery is being handled (checked against the mirror, or re-read) at a time, a few hundred
 * bytes each. A delivery over the re-read budget leaves at once, so this bounds memory only when deliveries come
 * faster than the mirror can check them.
 */
export const MAX_PENDING_SUBSCRIBERS = 1000;

export interface WebhookHintsDeps {
  kit: KitApi;
  journal: ChangeJournal;
  mirror?: SubscriberMirror;
  snapshot?: LookupSnapshot;
  /** Grants each Kit re-read (webhookRereadBudget.ts); a refused one drops the delivery. */
  budget: Pick<RereadBudget, 'take'>;
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
}

/** A subscriber whose delivery is being handled. */
interface Pending {
  /** The latest delivery that arrived meanwhile: handled once more afterwards (Kit may have read the old state). */
  next?: Partial<Subscriber>;
  done: Promise<void>;
}

export class WebhookHints {
  /**
   * One pending handling per subscriber: a delivery for a subscriber already pending joins it (the later
   * delivery is handled once after it, however many arrived), so repeating one id costs at most two reads.
   */
  private readonly pending = new Map<number, Pending>();
  private readonly maxPending: number;
  private delivered = 0;
  private reads = 0;
  private drops = 0;

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
    const entry: Pending = { done: Promise.resolve() };
    this.pending.set(id, entry);
    entry.done = this.run(id, entry, delivered);
    return true;
  }

  /** Resolves when every accepted delivery has been handled. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.values()].map((p) => p.done));
  }

  stats(): { delivered: number; reads: number; dropped: number } {
    return { delivered: this.delivered, reads: this.reads, dropped: this.drops };
  }

  private async run(id: number, entry: Pending, first: Partial<Subscriber>): Promise<void> {
    let delivered: Partial<Subscriber> | undefined = first;
    try {
      while (delivered) {
        try {
          const outcome = await this.handle(id, delivered);
          if (outcome === 'refused') this.drop('over_budget');
          else this.deps.handled?.(outcome);
        } catch (err) {
          this.deps.onError?.(err as Error);
        }
        delivered = entry.next;
        entry.next = undefined;
      }
    } finally {
      this.pending.delete(id);
    }
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

  private async handle(id: number, delivered: Partial<Subscriber>): Promise<'known' | 'read' | 'refused'> {
    if (this.deps.mirror) {
      const outcome = await this.deps.mirror.hint(id, delivered, () => this.admit());
      if (outcome === 'read') await this.deps.snapshot?.forget({ id, email: delivered.email_address });
      return outcome;
    }
    const known = await this.deps.journal.lastState(id);
    if (delivered.state !== undefined && known === delivered.state) return 'known';
    if (!this.admit()) return 'refused';
    const fresh = await this.deps.kit.subscribers.find(id, { priority: 'webhook' });
    if (!fresh) return 'read';
    await this.deps.snapshot?.forget({ id, email: fresh.email_address });
    const at = this.deps.now();
    if (known === undefined) {
      // Never seen before: the delivery is the change (when Kit confirms its state).
      if (delivered.state === undefined || fresh.state === delivered.state)
        await this.deps.journal.record({ subscriberId: id, at, kind: 'state', source: 'webhook', state: fresh.state });
    } else if (known !== fresh.state) {
      await this.deps.journal.record({ subscriberId: id, at, kind: 'state', source: 'webhook', state: fresh.state });
    } else return 'read';
    await this.deps.changed();
    return 'read';
  }
}
