import { kitTimestamp } from '../clock';
import { customFieldJson, type FieldRecord } from '../customFieldCatalog';
import { Rejection } from '../rejection';
import { taggedSubscriberJson, tagJson } from '../render';
import type { Route } from '../router';
import type { RouteContext } from './context';

// Kit's bulk endpoints report per-item problems in `failures` next to what succeeded; a bad item never fails
// the whole request. Failure items echo what was sent (or the existing row that clashed, as Kit's examples do).

const errorsOf = (e: unknown): string[] => {
  if (e instanceof Rejection) return e.status === 404 ? ['Not Found'] : e.errors;
  throw e;
};

const asObject = (item: unknown): Record<string, unknown> =>
  typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : {};

const fieldWithCreatedAt = (f: FieldRecord) => ({ ...customFieldJson(f), created_at: kitTimestamp(f.createdAt) });

export function bulkRoutes({ store, bulk }: RouteContext): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v4/bulk/subscribers',
      handle: ({ body }) =>
        bulk.submit(body.subscribers, 'No subscribers included for processing', body.callback_url, (items) => {
          const subscribers: unknown[] = [];
          const failures: unknown[] = [];
          for (const raw of items) {
            const item = asObject(raw);
            try {
              subscribers.push(store.render(store.upsertSubscriber(item).record));
            } catch (e) {
              failures.push({
                subscriber: {
                  first_name: item.first_name ?? null,
                  email_address: item.email_address ?? null,
                  state: typeof item.state === 'string' ? item.state : 'active',
                  created_at: null,
                },
                errors: errorsOf(e),
              });
            }
          }
          return { subscribers, failures };
        }),
    },
    {
      method: 'POST',
      pattern: '/v4/bulk/tags',
      handle: ({ body }) =>
        bulk.submit(body.tags, 'No tags included for processing', body.callback_url, (items) => {
          const tags: unknown[] = [];
          const failures: unknown[] = [];
          for (const raw of items) {
            const item = asObject(raw);
            try {
              tags.push(tagJson(store.createTagRecord(item.name)));
            } catch (e) {
              const existing = typeof item.name === 'string' ? store.findTagByName(item.name) : undefined;
              failures.push({ tag: existing ?? { name: item.name ?? null }, errors: errorsOf(e) });
            }
          }
          return { tags, failures };
        }),
    },
    {
      method: 'POST',
      pattern: '/v4/bulk/tags/subscribers',
      handle: ({ body }) =>
        bulk.submit(body.taggings, 'No taggings included for processing', body.callback_url, (items) => {
          const subscribers: unknown[] = [];
          const failures: unknown[] = [];
          const fields = store.customFields.all();
          for (const raw of items) {
            const item = asObject(raw);
            const tagId = Number(item.tag_id);
            const subscriberId = Number(item.subscriber_id);
            const tagging = { tag_id: item.tag_id ?? null, subscriber_id: item.subscriber_id ?? null };
            if (!store.tagRecord(tagId)) {
              failures.push({ tagging, errors: ['Tag not found'] });
            } else if (!store.subscriberRecord(subscriberId)) {
              failures.push({ tagging, errors: ['Subscriber not found'] });
            } else {
              subscribers.push(taggedSubscriberJson(store.tagSubscriber(tagId, subscriberId).tagging, fields));
            }
          }
          return { subscribers, failures };
        }),
    },
    {
      method: 'POST',
      pattern: '/v4/bulk/custom_fields',
      handle: ({ body }) =>
        bulk.submit(body.custom_fields, 'No custom fields included for processing', body.callback_url, (items) => {
          const customFields: unknown[] = [];
          const failures: unknown[] = [];
          for (const raw of items) {
            const item = asObject(raw);
            try {
              customFields.push(fieldWithCreatedAt(store.createFieldRecord(item.label)));
            } catch (e) {
              const existing = typeof item.label === 'string' ? store.customFields.findByLabel(item.label) : undefined;
              failures.push({
                custom_field: existing ? fieldWithCreatedAt(existing) : { label: item.label ?? null },
                errors: errorsOf(e),
              });
            }
          }
          return { custom_fields: customFields, failures };
        }),
    },
  ];
}
