import type { SubscriberState } from '../kit/types';
import type { ChangeLog } from './keyedSequence';

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
