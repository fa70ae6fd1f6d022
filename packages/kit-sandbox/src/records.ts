import type { SubscriberState } from './kitTypes';
import type { ChangeLog } from './keyedSequence';
import type { WebhookEventName } from './webhookEvents';

// The sandbox's internal rows. Kit's JSON is rendered from them in render.ts; nothing outside the sandbox
// sees these shapes.

export interface SubscriberRecord {
  id: number;
  email: string;
  firstName: string | null;
  state: SubscriberState;
  createdAt: number;
  updatedAt: number;
  /** Position in the updated_at order (ChangeLog sequence). */
  updatedSeq: number;
  cancelledAt: number | null;
  /** Position in the cancelled_at order; 0 when not cancelled. */
  cancelledSeq: number;
  /** Custom field values by field id; null when the subscriber has none. */
  fields: Record<number, string> | null;
  /** The subscriber's taggings; an array, not a Map, because a subscriber carries a handful of tags. */
  tags: Tagging[] | null;
}

export interface Tagging {
  tagId: number;
  subscriber: SubscriberRecord;
  taggedAt: number;
  /** Position in the tag's membership order. */
  seq: number;
}

export interface TagRecord {
  id: number;
  name: string;
  createdAt: number;
  members: ChangeLog<Tagging>;
  bySubscriber: Map<number, Tagging>;
}

export interface WebhookRecord {
  id: number;
  event: { name: string } & Record<string, unknown>;
  targetUrl: string;
}

// ---- what callers hand the store, and what it reports -------------------------------------------------------

export interface NewSubscriber {
  email_address: string;
  first_name?: string | null;
  state?: SubscriberState;
  fields?: Record<string, unknown> | null;
  /** ISO 8601 or epoch ms; defaults to the clock. Lets tests place subscribers in created_* date ranges. */
  created_at?: string | number;
}

export interface SubscriberWrite {
  email_address?: unknown;
  first_name?: unknown;
  state?: unknown;
  fields?: unknown;
}

export interface SeedOptions {
  /** Emails are `${emailPrefix}${id}@${domain}`; defaults `subscriber` and `example.com`. */
  emailPrefix?: string;
  domain?: string;
  state?: SubscriberState;
  /** first_name is `${firstNamePrefix}${id}` when set, null otherwise. */
  firstNamePrefix?: string;
  /** Values by field key or label; `{id}` in a value is replaced with the subscriber id. Unknown fields drop. */
  fields?: Record<string, string>;
}

export interface SeedResult {
  count: number;
  firstId: number | null;
  lastId: number | null;
  ids: number[];
}

/** The account as GET /v4/account describes it. */
export interface AccountProfile {
  id: number;
  name: string;
  plan_type: string;
  primary_email_address: string;
  created_at: string;
}

/** Subscriber events a Kit webhook can report. */
export interface SubscriberEvent {
  name: WebhookEventName;
  subscriber: SubscriberRecord;
  tagId?: number;
}
