import type { KitApi } from '../kit/api';
import { SUBSCRIBER_STATES, type Subscriber, type SubscriberState } from '../kit/types';
import type { ChangeJournal } from './journal/changeJournal';
import type { LookupSnapshot } from './lookupSnapshot';
import type { SubscriberMirror } from './mirror/subscriberMirror';

// What a Kit webhook delivery means to the server: a hint that one subscriber may have changed. Kit does not
// sign deliveries, so nothing in one is believed: the subscriber's state is taken from Kit's API, and the
// delivery only decides whether to ask. When it says what the server already knows (the state in the mirror,
// or the last state the journal saw), nothing is read: the server's own writes come back as deliveries too,
// and re-reading them would double the cost of every deprovision. A forged delivery can therefore cost at most
// one background Kit call, never change what the server reports.

/** The Kit webhook events the server registers (kit-api-v4 "Create a webhook"). */
export const SUBSCRIBER_STATE_EVENTS = [
  'subscriber.subscriber_activate',
  'subscriber.subscriber_unsubscribe',
  'subscriber.subscriber_bounce',
  'subscriber.subscriber_complain',
] as const;

export interface WebhookHintsDeps {
  kit: KitApi;
  journal: ChangeJournal;
  mirror?: SubscriberMirror;
  snapshot?: LookupSnapshot;
  /** Cached walk pages must go. */
  changed: () => Promise<void>;
  now: () => number;
  onError?: (err: Error) => void;
  /** Every accepted delivery (the webhook watch: deliveries still arrive). */
  heard?: () => Promise<void>;
  /** Each handled delivery: did it need a Kit read? */
  handled?: (outcome: 'known' | 'read') => void;
}

export class WebhookHints {
  /** One re-read at a time per subscriber; a delivery arriving meanwhile runs after it. */
  private readonly queue = new Map<number, Promise<void>>();
  private delivered = 0;
  private reads = 0;

  constructor(private readonly deps: WebhookHintsDeps) {}

  /** Accepts a delivery body; false when it names no subscriber (then nothing is done). */
  accept(body: unknown): boolean {
    const sub = (body as { subscriber?: unknown } | null)?.subscriber as Partial<Subscriber> | undefined;
    const id = sub?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return false;
    const state = SUBSCRIBER_STATES.includes(sub!.state as SubscriberState) ? sub!.state : undefined;
    const email = typeof sub!.email_address === 'string' ? sub!.email_address : undefined;
    this.delivered += 1;
    void this.deps.heard?.().catch((err) => this.deps.onError?.(err as Error));
    const previous = this.queue.get(id) ?? Promise.resolve();
    const next = previous
      .then(async () => this.deps.handled?.(await this.handle(id, { state, email_address: email })))
      .catch((err) => this.deps.onError?.(err as Error))
      .finally(() => {
        if (this.queue.get(id) === next) this.queue.delete(id);
      });
    this.queue.set(id, next);
    return true;
  }

  /** Resolves when every accepted delivery has been handled. */
  async idle(): Promise<void> {
    while (this.queue.size > 0) await Promise.allSettled([...this.queue.values()]);
  }

  stats(): { delivered: number; reads: number } {
    return { delivered: this.delivered, reads: this.reads };
  }

  /** Whether the delivery needed a Kit read. */
  private async handle(id: number, delivered: Partial<Subscriber>): Promise<'known' | 'read'> {
    if (this.deps.mirror) {
      let read = false;
      await this.deps.mirror.hint(id, delivered, () => {
        read = true;
        this.reads += 1;
      });
      if (read) await this.deps.snapshot?.forget({ id, email: delivered.email_address });
      return read ? 'read' : 'known';
    }
    const known = await this.deps.journal.lastState(id);
    if (delivered.state !== undefined && known === delivered.state) return 'known';
    this.reads += 1;
    const fresh = await this.deps.kit.subscribers.find(id, { priority: 'background' });
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
