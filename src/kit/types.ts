// Kit (ConvertKit) v4 domain types, as the API returns them. Nothing here knows SCIM.

export const SUBSCRIBER_STATES = ['active', 'inactive', 'bounced', 'complained', 'cancelled'] as const;
export type SubscriberState = (typeof SUBSCRIBER_STATES)[number];
export type SubscriberStatusFilter = SubscriberState | 'all';

export interface Subscriber {
  id: number;
  first_name: string | null;
  email_address: string;
  state: SubscriberState;
  created_at: string;
  /** Custom field values keyed by field key. Kit returns every account field, null when unset. */
  fields: Record<string, string | null>;
}

export interface TaggedSubscriber extends Subscriber {
  tagged_at: string;
}

export interface Tag {
  id: number;
  name: string;
  created_at: string;
}

export interface CustomField {
  id: number;
  name: string;
  key: string;
  label: string;
}

export interface Account {
  user: { email: string };
  account: { id: number; name: string; plan_type?: string; primary_email_address?: string };
}

export interface Pagination {
  has_previous_page: boolean;
  has_next_page: boolean;
  start_cursor: string | null;
  end_cursor: string | null;
  per_page: number;
}

export interface Page<T> {
  items: T[];
  pagination: Pagination;
  /** Present when the call asked for include_total_count. */
  totalCount?: number;
}

export interface PageRequest {
  after?: string | null;
  before?: string | null;
  /** Kit's default is 500; the adapter defaults to 1000, Kit's maximum. */
  perPage?: number;
  includeTotalCount?: boolean;
}

/** The list filters Kit can answer itself on GET /v4/subscribers. Dates are ISO 8601; Kit compares at day granularity. */
export interface SubscriberQuery {
  status?: SubscriberStatusFilter;
  email_address?: string;
  created_after?: string;
  created_before?: string;
  updated_after?: string;
  updated_before?: string;
  sort_field?: 'id' | 'updated_at' | 'cancelled_at';
  sort_order?: 'asc' | 'desc';
}

export interface SubscriberInput {
  email_address: string;
  first_name?: string | null;
  /** Applies only when the upsert creates a new subscriber; Kit never changes an existing subscriber's state. */
  state?: SubscriberState;
  fields?: Record<string, string | null>;
}

export interface SubscriberUpdate {
  email_address?: string;
  first_name?: string | null;
  fields?: Record<string, string | null>;
}

export interface Tagging {
  tag_id: number;
  subscriber_id: number;
}

export interface BulkFailure<T> {
  item: T;
  errors: string[];
}

export interface BulkResult<TOk, TIn> {
  succeeded: TOk[];
  failures: BulkFailure<TIn>[];
}

/**
 * Interactive calls (an IdP waiting on a SCIM answer) go ahead of background calls (reconciliation pulls,
 * cache warming, mirror walks) in the limiter's queue, and those go ahead of the re-reads a Kit webhook delivery
 * asks for: deliveries are unsigned, so whoever knows the receiver's URL decides how many there are.
 */
export type CallPriority = 'interactive' | 'background' | 'webhook';

export interface CallOptions {
  priority?: CallPriority;
  /** Give up (with a retryable error) when the call cannot start before this many ms have passed. */
  maxWaitMs?: number;
  signal?: AbortSignal;
  /** The call's first exchange is leaving for Kit: what it reads is what Kit holds from now on. */
  onSent?: () => void;
}

export type { KitCallRecord } from '../platform/kitCallRecord';

/** A webhook as Kit lists it; Kit answers the event name without its "subscriber." prefix. */
export interface KitWebhook {
  id: number;
  event: { name: string; tag_id?: number | null; form_id?: number | null; [k: string]: unknown };
  target_url: string;
}
