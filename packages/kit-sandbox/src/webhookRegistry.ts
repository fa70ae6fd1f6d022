import type { WebhookRecord } from './records';
import { notFound, unprocessable } from './rejection';
import { WEBHOOK_EVENTS, type WebhookEventName } from './webhookEvents';

// The account's webhooks (POST/GET/DELETE /v4/webhooks). Kit accepts the event name with or without its
// "subscriber." prefix and answers without it; events such as tag_add need their parameter (tag_id).

export class WebhookRegistry {
  private readonly hooks = new Map<number, WebhookRecord>();
  private nextId = 1;

  get size(): number {
    return this.hooks.size;
  }

  get nextIdValue(): number {
    return this.nextId;
  }

  create(rawEvent: unknown, rawTargetUrl: unknown, tagExists: (id: number) => boolean): WebhookRecord {
    if (typeof rawTargetUrl !== 'string' || !/^https?:\/\/\S+$/i.test(rawTargetUrl)) {
      throw unprocessable('Target url is invalid');
    }
    if (typeof rawEvent !== 'object' || rawEvent === null || typeof (rawEvent as any).name !== 'string') {
      throw unprocessable('Event name is invalid');
    }
    const given = rawEvent as Record<string, unknown>;
    const name = String(given.name).replace(/^(subscriber|purchase)\./, '');
    const spec = Object.hasOwn(WEBHOOK_EVENTS, name) ? WEBHOOK_EVENTS[name as WebhookEventName] : undefined;
    if (!spec) throw unprocessable('Event name is invalid');
    const event: WebhookRecord['event'] = { name };
    if (spec.requires) {
      const value = given[spec.requires];
      if (value === undefined || value === null || value === '')
        throw unprocessable(`Event ${spec.requires} is required`);
      if (spec.requires === 'tag_id' && !tagExists(Number(value))) throw notFound();
      event[spec.requires] = spec.requires === 'initiator_value' ? String(value) : Number(value);
    } else {
      event.initiator_value = null;
    }
    const hook: WebhookRecord = { id: this.nextId++, event, targetUrl: rawTargetUrl };
    this.hooks.set(hook.id, hook);
    return hook;
  }

  delete(id: number): void {
    if (!this.hooks.delete(id)) throw notFound();
  }

  /** By ascending id. */
  list(): WebhookRecord[] {
    return [...this.hooks.values()];
  }

  restore(hook: WebhookRecord): void {
    this.hooks.set(hook.id, hook);
    this.nextId = Math.max(this.nextId, hook.id + 1);
  }

  /** Ids are never reused, even after the newest webhook was deleted and the sandbox restarted. */
  resumeIdsAt(nextId: number): void {
    this.nextId = Math.max(this.nextId, nextId);
  }

  clear(): void {
    this.hooks.clear();
    this.nextId = 1;
  }
}
