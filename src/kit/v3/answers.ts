import { z } from 'zod';
import { customFieldShape, subscriberShape, subscriberTagShape, tagShape } from '../answers';
import type { CustomField, Tag } from '../types';

// Kit v3's answers as kit-api-v3-legacy.txt documents them: page numbers and totals instead of cursors, and
// creations answered with the object itself rather than wrapped under its name.

/** GET /v3/account: no ids, only the name, plan and email. */
export const v3AccountAnswer = z.looseObject({
  name: z.string().optional(),
  plan_type: z.string().optional(),
  primary_email_address: z.string().optional(),
});

const pageCount = z.number().int().nonnegative();

export const v3SubscriberListAnswer = z.object({
  subscribers: z.array(subscriberShape),
  total_subscribers: pageCount,
  total_pages: pageCount,
});

/** POST /v3/tags/{id}/subscribe: the subscription, naming only the subscriber's id. */
export const v3SubscriptionAnswer = z.object({
  subscription: z.looseObject({
    created_at: z.string().nullish(),
    subscriber: z.looseObject({ id: z.number().int() }),
  }),
});

export const v3TagsAnswer = z.object({ tags: z.array(tagShape) });
export const v3SubscriberTagsAnswer = z.object({ tags: z.array(subscriberTagShape) });

export const v3TagSubscriptionsAnswer = z.object({
  subscriptions: z.array(z.looseObject({ created_at: z.string().nullish(), subscriber: subscriberShape })),
  total_pages: pageCount,
  total_subscriptions: pageCount,
});

export const v3CustomFieldsAnswer = z.object({ custom_fields: z.array(customFieldShape) });

/** A creation answers the object itself; some answers wrap it under its name. */
function itselfOrUnder<T>(key: string, shape: z.ZodType<T>): z.ZodType<T> {
  return z.union([z.object({ [key]: shape }).transform((d) => d[key] as T), shape]);
}

export const v3TagCreatedAnswer: z.ZodType<Tag> = itselfOrUnder('tag', tagShape);
export const v3CustomFieldCreatedAnswer: z.ZodType<CustomField> = itselfOrUnder('custom_field', customFieldShape);
