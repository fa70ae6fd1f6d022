// Kit's v4 JSON shapes as Kit's API reference documents them: what the sandbox stores and answers with. The
// sandbox is Kit's side of the wire, so it keeps its own copy rather than borrowing a client's view of Kit.

/** Kit's subscriber states. */
export const SUBSCRIBER_STATES = ['active', 'inactive', 'bounced', 'complained', 'cancelled'] as const;
export type SubscriberState = (typeof SUBSCRIBER_STATES)[number];

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
