// The webhook events Kit's POST /v4/webhooks accepts, and the parameter each one requires. Kit answers with
// the name without its "subscriber." / "purchase." prefix, so that is how they are stored.

export type WebhookEventName =
  | 'subscriber_activate'
  | 'subscriber_unsubscribe'
  | 'subscriber_bounce'
  | 'subscriber_complain'
  | 'form_subscribe'
  | 'course_subscribe'
  | 'course_complete'
  | 'link_click'
  | 'product_purchase'
  | 'tag_add'
  | 'tag_remove'
  | 'purchase_create';

export const WEBHOOK_EVENTS: Record<WebhookEventName, { requires?: string }> = {
  subscriber_activate: {},
  subscriber_unsubscribe: {},
  subscriber_bounce: {},
  subscriber_complain: {},
  form_subscribe: { requires: 'form_id' },
  course_subscribe: { requires: 'course_id' },
  course_complete: { requires: 'course_id' },
  link_click: { requires: 'initiator_value' },
  product_purchase: { requires: 'product_id' },
  tag_add: { requires: 'tag_id' },
  tag_remove: { requires: 'tag_id' },
  purchase_create: {},
};
