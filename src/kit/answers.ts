import { z } from 'zod';
import {
  type Account,
  type CustomField,
  type Page,
  SUBSCRIBER_STATES,
  type Subscriber,
  type Tag,
  type TaggedSubscriber,
  type KitWebhook,
} from './types';

// Kit's answers as Kit documents them (kit-api-v4.txt), parsed where they enter: a 2xx body that does not match
// becomes KitUnreadableAnswerError in the caller, so nothing above src/kit handles an unchecked body. Kit adds
// attributes over time: the objects the adapter hands on keep what they do not name (loose), the envelopes
// around them are read for their named keys only.

const kitId = z.number().int();

const subscriberObject = z.looseObject({
  id: kitId,
  // Kit sends null for a subscriber without a first name.
  first_name: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  email_address: z.string(),
  state: z.enum(SUBSCRIBER_STATES),
  created_at: z.string(),
  /** Every custom field of the account, null when the subscriber has no value. */
  fields: z.record(z.string(), z.string().nullable()),
});

export const subscriberShape: z.ZodType<Subscriber> = subscriberObject;
const taggedSubscriberShape: z.ZodType<TaggedSubscriber> = subscriberObject.extend({ tagged_at: z.string() });

export const tagShape: z.ZodType<Tag> = z.looseObject({ id: kitId, name: z.string(), created_at: z.string() });

/**
 * A tag in a subscriber's tag list: Kit gives the tagging date (tagged_at; added_at in older answers) instead of
 * created_at. Tag needs a date, the tagging one is what Kit has.
 */
export const subscriberTagShape: z.ZodType<Tag> = z
  .looseObject({
    id: kitId,
    name: z.string(),
    created_at: z.string().nullish(),
    tagged_at: z.string().nullish(),
    added_at: z.string().nullish(),
  })
  .transform((t) => ({ id: t.id, name: t.name, created_at: t.created_at ?? t.tagged_at ?? t.added_at ?? '' }));

export const customFieldShape: z.ZodType<CustomField> = z.looseObject({
  id: kitId,
  name: z.string(),
  key: z.string(),
  label: z.string(),
});

const webhookShape: z.ZodType<KitWebhook> = z.looseObject({
  id: kitId,
  event: z.looseObject({ name: z.string(), tag_id: kitId.nullish(), form_id: kitId.nullish() }),
  target_url: z.string(),
});

/** An answer whose body the adapter does not read (204 No Content, or an echo it has no use for). */
export const unreadAnswer = z.unknown();

/** A body Kit may leave empty (204): axios hands an empty body over as "". */
export function maybeEmpty<T>(schema: z.ZodType<T>): z.ZodType<T> {
  return z.preprocess((v) => (v === '' || v === null || v === undefined ? {} : v), schema) as z.ZodType<T>;
}

export const accountAnswer: z.ZodType<Account> = z.looseObject({
  user: z.looseObject({ email: z.string() }),
  account: z.looseObject({
    id: kitId,
    name: z.string(),
    plan_type: z.string().optional(),
    primary_email_address: z.string().optional(),
  }),
});

export const subscriberAnswer = z.object({ subscriber: subscriberShape });
/** Kit documents 204 No Content for an unsubscribe; some answers carry the subscriber. */
export const unsubscribeAnswer = maybeEmpty(z.object({ subscriber: subscriberShape.optional() }));
export const tagAnswer = z.object({ tag: tagShape });
export const customFieldAnswer = z.object({ custom_field: customFieldShape });
export const webhookAnswer = z.object({ webhook: webhookShape });

/**
 * A bulk answer: the items done and the items that failed. Kit documents `failures` as `[any]`: each entry is
 * read field by field where it is used (resources/bulk.ts).
 */
export const bulkTaggingAnswer = z.object({
  subscribers: z.array(taggedSubscriberShape).default([]),
  failures: z.array(z.unknown()).default([]),
});

/** RFC 6749 §5.1: the new access token, and the rotated refresh token when Kit rotates it. */
export interface OAuthTokenAnswer {
  access_token: string;
  refresh_token?: string;
}
export const oauthTokenAnswer: z.ZodType<OAuthTokenAnswer> = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
});

const paginationShape = z.object({
  has_previous_page: z.boolean().default(false),
  has_next_page: z.boolean(),
  start_cursor: z.string().nullish(),
  end_cursor: z.string().nullish(),
  per_page: z.number().int().optional(),
  /** Present when asked for with include_total_count. */
  total_count: z.number().int().optional(),
});

/** One page of a Kit list (docs/kit/api.md "Pagination"); `key` names the array ("subscribers", "tags"…). */
export function pageAnswer<T>(key: string, item: z.ZodType<T>): z.ZodType<Page<T>> {
  return z
    .object({ [key]: z.array(item), pagination: paginationShape, total_count: z.number().int().optional() })
    .transform((body): Page<T> => {
      const items = body[key] as T[];
      const p = body.pagination as z.output<typeof paginationShape>;
      const page: Page<T> = {
        items,
        pagination: {
          has_previous_page: p.has_previous_page,
          has_next_page: p.has_next_page,
          start_cursor: p.start_cursor ?? null,
          end_cursor: p.end_cursor ?? null,
          per_page: p.per_page ?? items.length,
        },
      };
      const total = p.total_count ?? (body.total_count as number | undefined);
      return total === undefined ? page : { ...page, totalCount: total };
    });
}

export const subscriberPage = pageAnswer('subscribers', subscriberShape);
export const taggedSubscriberPage = pageAnswer('subscribers', taggedSubscriberShape);
export const tagPage = pageAnswer('tags', tagShape);
export const subscriberTagPage = pageAnswer('tags', subscriberTagShape);
export const customFieldPage = pageAnswer('custom_fields', customFieldShape);
export const webhookPage = pageAnswer('webhooks', webhookShape);
