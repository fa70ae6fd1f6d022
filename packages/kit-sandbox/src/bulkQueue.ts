import { unprocessable } from './rejection';
import type { Reply } from './router';

// Kit's bulk endpoints: up to 100 items are processed synchronously (200 with the result); more are queued
// (202 {}) and, "if you include a callback_url in your request body, we'll POST to that URL when our
// processing has completed" with the same shape as the 200 body.

export const SYNC_BULK_LIMIT = 100;

export interface CallbackDelivery {
  url: string;
  status: number | 'error';
  at: number;
}

export class BulkQueue {
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly deliveryLog: CallbackDelivery[] = [];
  private closed = false;

  constructor(private readonly now: () => number) {}

  /**
   * `items` is the request's array; `emptyMessage` is Kit's 422 text when it is empty or not an array;
   * `process` applies the items and returns the 200 body.
   */
  submit(items: unknown, emptyMessage: string, callbackUrl: unknown, process: (items: unknown[]) => object): Reply {
    if (!Array.isArray(items) || items.length === 0) throw unprocessable(emptyMessage);
    const url = this.callbackUrl(callbackUrl);
    if (items.length <= SYNC_BULK_LIMIT) return { status: 200, body: process(items) };
    const job = this.runLater(items, url, process);
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
    return { status: 202, body: {} };
  }

  /** Resolves once every queued job has been applied and its callback attempted. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  deliveries(): CallbackDelivery[] {
    return [...this.deliveryLog];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  private async runLater(items: unknown[], url: string | null, process: (items: unknown[]) => object): Promise<void> {
    // Let the 202 reach the client before the work (and the callback) happens, as with Kit's queue.
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.closed) return;
    const result = process(items);
    if (!url) return;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(result),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      this.deliveryLog.push({ url, status: res.status, at: this.now() });
    } catch {
      this.deliveryLog.push({ url, status: 'error', at: this.now() });
    }
  }

  private callbackUrl(raw: unknown): string | null {
    if (raw === undefined || raw === null || raw === '') return null;
    if (typeof raw === 'string') {
      try {
        const u = new URL(raw);
        if (u.protocol === 'http:' || u.protocol === 'https:') return raw;
      } catch {
        // falls through to the 422
      }
    }
    throw unprocessable('Callback url is invalid');
  }
}
