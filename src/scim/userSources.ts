import type { CallOptions, Subscriber } from '../kit/types';
import type { ResourcePage, ScimUser } from './resources';
import type { GroupRef } from './userMapping';
import type { TimeSlices } from './paging/timeSlices';

// What the User directory and its listing read besides Kit: the groups of users, and the mirror's pages.

/** Group membership as seen from a user. */
export interface UserGroupsSource {
  ofSubscriber(id: number, opts: CallOptions): Promise<GroupRef[]>;
  ofSubscribers(ids: number[], opts: CallOptions): Promise<Map<number, GroupRef[]>>;
  /** Takes every group tag off a subscriber (before it is deleted). */
  removeAll(id: number, opts: CallOptions): Promise<void>;
  /** The tag that marks deleted subscribers, so lists can count them in one call. */
  markDeleted(id: number, opts: CallOptions): Promise<void>;
  deletedCount(opts: CallOptions): Promise<number>;
  /** Membership of every user at once, for filters on `groups` evaluated while walking pages. */
  snapshot(opts: CallOptions): Promise<{ generation: number; of(id: number): GroupRef[] }>;
}

export interface MirrorPages {
  complete(): Promise<boolean>;
  /** Whether filters Kit cannot answer may be evaluated over the mirror (a lookup mirror walks first). */
  forFilters(): Promise<boolean>;
  /** O(1) index lookups (the mirror's externalId and non-email userName indexes). */
  byExternalId(value: string): Promise<Subscriber | undefined>;
  byUserName(value: string): Promise<Subscriber | undefined>;
  /** One page of 1,000, read in the walk's `slices` of time. */
  page(
    after: number | null,
    order: 'asc' | 'desc',
    slices?: TimeSlices,
  ): Promise<{ items: Subscriber[]; next: number | null }>;
  /** How many subscribers it holds: the rows a filtered walk of it decides. */
  size(): Promise<number>;
}

export type UserList = ResourcePage<ScimUser>;
