import type { Subscriber, Tag, TaggedSubscriber } from './kitTypes';
import { kitTimestamp } from './clock';
import type { FieldRecord } from './customFieldCatalog';
import type { SubscriberRecord, Tagging, TagRecord, WebhookRecord } from './records';

// Kit's JSON shapes, exactly as kitTypes.ts describes them. Kit returns every custom field of the account
// in `fields`, null when the subscriber has no value.

export function subscriberJson(s: SubscriberRecord, fields: readonly FieldRecord[]): Subscriber {
  const values: Record<string, string | null> = {};
  for (const f of fields) values[f.key] = s.fields?.[f.id] ?? null;
  return {
    id: s.id,
    first_name: s.firstName,
    email_address: s.email,
    state: s.state,
    created_at: kitTimestamp(s.createdAt),
    fields: values,
  };
}

export function taggedSubscriberJson(t: Tagging, fields: readonly FieldRecord[]): TaggedSubscriber {
  const s = subscriberJson(t.subscriber, fields);
  return {
    id: s.id,
    first_name: s.first_name,
    email_address: s.email_address,
    state: s.state,
    created_at: s.created_at,
    tagged_at: kitTimestamp(t.taggedAt),
    fields: s.fields,
  };
}

export function tagJson(t: TagRecord): Tag {
  return { id: t.id, name: t.name, created_at: kitTimestamp(t.createdAt) };
}

export function subscriberTagJson(tag: TagRecord, tagging: Tagging): { id: number; name: string; tagged_at: string } {
  return { id: tag.id, name: tag.name, tagged_at: kitTimestamp(tagging.taggedAt) };
}

export function webhookJson(w: WebhookRecord, accountId: number) {
  return { id: w.id, account_id: accountId, event: w.event, target_url: w.targetUrl };
}
