import { AsyncLocalStorage } from 'node:async_hooks';
import type { SandboxStore, SubscriberEvent } from './store';

// Kit POSTs `{"subscriber": {...}}` (the subscriber as the v4 API renders it, state after the event) to a
// webhook's target_url when its event happens. The sandbox does the same for the subscriber events it can
// produce (activate, unsubscribe, bounce, complain, tag_add, tag_remove), so a consumer of Kit webhooks can
// be tested end to end.
//
// Retries: Kit's v4 reference says nothing about retrying these (legacy) webhooks; Kit's webhook guide
// documents, for failed deliveries (a non-2xx answer, a connection failure, a timeout), retries with backoff
// at 30 s, 2 min, 15 min, 1 h, 4 h, 12 h and 24 h, none after a 410 Gone, and a Retry-After honoured on 429/503.
// The sandbox follows that schedule (`retryDelaysMs` shortens it for tests), re-POSTing the same body.
// Deliveries can also be dropped on purpose (`dropDeliveries`), to test a consumer that must survive lost ones.
//
// Order against the API answer: Kit sends these from a background job, so nothing orders a delivery after the
// answer to the call that caused it; a consumer sees both orders. `setOrder` makes each order certain for a
// test: 'beforeAnswer' holds the API answer until the first attempt of every delivery its call caused has been
// answered by the receiver; 'afterAnswer' sends those deliveries only once the answer has been written;
// 'immediate' (the default) sends them as the event happens, racing the answer.

/** When a delivery caused by an API call is sent, relative to that call's answer. */
export type DeliveryOrder = 'immediate' | 'beforeAnswer' | 'afterAnswer';

export const KIT_WEBHOOK_RETRY_DELAYS_MS = [30_000, 120_000, 900_000, 3_600_000, 14_400_000, 43_200_000, 86_400_000];

export interface WebhookDeliveryOptions {
  retryDelaysMs?: readonly number[];
}

export interface DeliveryRecord {
  targetUrl: string;
  event: string;
  subscriberId: number;
  attempts: number;
  /** Final HTTP status, 0 for a network failure, 'dropped' when dropped on purpose, 'pending' while retrying. */
  outcome: number | 'dropped' | 'pending';
}

export class WebhookDelivery {
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly retryDelaysMs: readonly number[];
  private dropping = false;
  private order: DeliveryOrder = 'immediate';
  /** The first attempts of the deliveries caused by the API call being handled (when an order is set). */
  private readonly caused = new AsyncLocalStorage<Array<() => Promise<void>>>();
  readonly log: DeliveryRecord[] = [];

  constructor(
    private readonly store: SandboxStore,
    opts: WebhookDeliveryOptions = {},
  ) {
    this.retryDelaysMs = opts.retryDelaysMs ?? KIT_WEBHOOK_RETRY_DELAYS_MS;
    store.onSubscriberEvent((e) => this.deliver(e));
  }

  /** While true, every delivery is lost (not sent, not retried). */
  dropDeliveries(drop: boolean): void {
    this.dropping = drop;
  }

  setOrder(order: DeliveryOrder): void {
    this.order = order;
  }

  /**
   * Runs one API call's handler. `answered` is called once its answer is written: deliveries the call caused
   * are sent before the handler's reply is returned ('beforeAnswer'), or when `answered` is called
   * ('afterAnswer').
   */
  async aroundCall<T>(handle: () => Promise<T>): Promise<{ reply: T; answered: () => void }> {
    if (this.order === 'immediate') return { reply: await handle(), answered: () => undefined };
    const order = this.order;
    const caused: Array<() => Promise<void>> = [];
    const reply = await this.caused.run(caused, handle);
    if (order === 'beforeAnswer') {
      await Promise.allSettled(caused.map((send) => send()));
      return { reply, answered: () => undefined };
    }
    return {
      reply,
      answered: () => {
        for (const send of caused) void send();
      },
    };
  }

  /** Resolves when no delivery attempt is in flight or waiting for a retry. */
  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.timers.size > 0) {
      await Promise.allSettled([...this.pending]);
      if (this.timers.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
  }

  private deliver(e: SubscriberEvent): void {
    const hooks = this.store
      .listWebhooks()
      .filter((h) => h.event.name === e.name && (e.tagId === undefined || Number(h.event.tag_id) === e.tagId));
    if (hooks.length === 0) return;
    const body = JSON.stringify({ subscriber: this.store.render(e.subscriber) });
    for (const hook of hooks) {
      const record: DeliveryRecord = {
        targetUrl: hook.targetUrl,
        event: e.name,
        subscriberId: e.subscriber.id,
        attempts: 0,
        outcome: this.dropping ? 'dropped' : 'pending',
      };
      this.log.push(record);
      if (this.log.length > 10_000) this.log.shift();
      if (this.dropping) continue;
      const caused = this.order === 'immediate' ? undefined : this.caused.getStore();
      if (caused) caused.push(() => this.attempt(record, body));
      else void this.attempt(record, body);
    }
  }

  /** Resolves once this attempt's outcome is known (a retry, if any, is scheduled, not awaited). */
  private attempt(record: DeliveryRecord, body: string): Promise<void> {
    record.attempts += 1;
    const sent = fetch(record.targetUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]),
    })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      })
      .catch(() => ({ status: 0, retryAfter: null }))
      .then(({ status, retryAfter }) => {
        if (status >= 200 && status < 300) record.outcome = status;
        else if (status === 410 || record.attempts > this.retryDelaysMs.length || this.abort.signal.aborted)
          record.outcome = status;
        else {
          const asked = retryAfter !== null && (status === 429 || status === 503) ? Number(retryAfter) * 1000 : NaN;
          const delay = Number.isFinite(asked)
            ? Math.min(Math.max(asked, 1000), 86_400_000)
            : this.retryDelaysMs[record.attempts - 1];
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            void this.attempt(record, body);
          }, delay);
          timer.unref();
          this.timers.add(timer);
        }
      });
    this.pending.add(sent);
    void sent.finally(() => this.pending.delete(sent));
    return sent;
  }
}
