import type { SandboxStore, SubscriberEvent } from './store';

// Kit POSTs `{subscriber: {...}}` to a webhook's target_url when its event happens. The sandbox does the same
// for the subscriber events it can produce (activate, unsubscribe, bounce, complain, tag_add, tag_remove), so
// a consumer of Kit webhooks can be tested end to end. Deliveries are fire-and-forget, as Kit's are.

export class WebhookDelivery {
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly store: SandboxStore) {
    store.onSubscriberEvent((e) => this.deliver(e));
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  private deliver(e: SubscriberEvent): void {
    const hooks = this.store
      .listWebhooks()
      .filter((h) => h.event.name === e.name && (e.tagId === undefined || Number(h.event.tag_id) === e.tagId));
    if (hooks.length === 0) return;
    const body = JSON.stringify({ subscriber: this.store.render(e.subscriber) });
    for (const hook of hooks) {
      const sent = fetch(hook.targetUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]),
      })
        .then((res) => res.arrayBuffer())
        .then(
          () => undefined,
          () => undefined,
        );
      this.pending.add(sent);
      void sent.finally(() => this.pending.delete(sent));
    }
  }
}
