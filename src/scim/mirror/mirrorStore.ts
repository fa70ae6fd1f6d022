import type { Subscriber } from '../../kit/types';
import { identityKey } from '../identity';
import { mapInSlices, type TimeSlices } from '../paging/timeSlices';

// Where the subscriber mirror keeps its records: in this process (memory) or in Redis (one mirror for every
// replica). A record is the subscriber as Kit returned it, reduced to what the server maps (email, first
// name, state, created_at and the reserved scim_* fields), stored as one JSON string: ~250 bytes a subscriber,
// so 100,000 subscribers fit in a few tens of MB either way (bench/provision measures it).
//
// Indexes: email (Kit's identity), externalId and a userName that is not the email, each to the subscriber id,
// for O(1) lookups. Index entries are never trusted alone: a read checks the record still carries the value.
// userNames are indexed by their identity key (identity.ts), so one lookup answers both a `userName eq` filter
// (the filter then decides the row) and the uniqueness check of a create, which compares names by that key.

export interface MirrorIndexKeys {
  /** Field key holding externalId. */
  externalId: string;
  /** Field key holding a userName that is not exactly the email. */
  userName: string;
}

export interface MirrorStatus {
  /** A full walk finished at this time (ms), and nothing since has made the mirror untrustworthy. */
  completeAt?: number;
  /** The highest subscriber id that walk saw: Kit's ids grow, so a lower id it did not see does not exist. */
  walkedMaxId?: number;
}

export interface PutResult {
  before?: MirrorRecord;
  stored: boolean;
}

/** A mirrored subscriber, with when it was read from Kit. */
export type MirrorRecord = Subscriber & { seenAt?: number };

export interface MirrorPage {
  items: Subscriber[];
  /** The last id of this page when more follow, else null. */
  next: number | null;
}

export interface MirrorStore {
  status(): Promise<MirrorStatus>;
  markComplete(at: number, walkedMaxId: number): Promise<void>;
  /** The mirror can no longer be trusted (a write it missed): reads go to Kit until the next full walk. */
  markIncomplete(): Promise<void>;
  get(id: number): Promise<Subscriber | undefined>;
  /** Several at once, in the order asked (undefined for unknown ids). */
  getMany(ids: number[]): Promise<Array<Subscriber | undefined>>;
  idByEmail(email: string): Promise<number | undefined>;
  idByExternalId(value: string): Promise<number | undefined>;
  idByUserName(value: string): Promise<number | undefined>;
  /**
   * Stores these records as read from Kit at `readAt`, replacing what was there unless that was read later (a
   * walk's page must not undo the server's own write made after the page was read). Returns, in order, what
   * was there before and whether this record replaced it.
   */
  put(subs: Subscriber[], readAt: number): Promise<PutResult[]>;
  /**
   * Subscribers by id, ascending or descending, after `after` (exclusive), at most `limit`; their records are
   * parsed in `slices` of time when given (a page of 1,000 is several ms of JSON.parse).
   */
  page(after: number | null, limit: number, order: 'asc' | 'desc', slices?: TimeSlices): Promise<MirrorPage>;
  count(): Promise<number>;
  /** Approximate bytes the mirror holds (records and indexes). */
  bytes(): Promise<number>;
  /** Leadership for the background walk: true when this caller may walk now (one walker across replicas). */
  claimWalk(holder: string, ttlMs: number): Promise<boolean>;
  releaseWalk(holder: string): Promise<void>;
}

/** The parts of a subscriber the mirror keeps: the reserved fields, non-empty only. */
export function compact(sub: Subscriber, keepFields: ReadonlySet<string>): Subscriber {
  const fields: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(sub.fields ?? {})) {
    if (keepFields.has(k) && v !== null && v !== undefined && v !== '') fields[k] = v;
  }
  return {
    id: sub.id,
    email_address: sub.email_address,
    first_name: sub.first_name ?? null,
    state: sub.state,
    created_at: sub.created_at,
    fields,
  };
}

/**
 * Kit returns every account field (null when unset); the mirror keeps the set ones, so put the rest back. A new
 * object of exactly what `compact` keeps (a record's bookkeeping, such as seenAt, stays behind): a list walk
 * expands 1,000 records a page, and one object each instead of two is less for the collector.
 */
export function expand(sub: Subscriber, allFields: readonly string[]): Subscriber {
  const fields: Record<string, string | null> = {};
  for (const k of allFields) fields[k] = sub.fields[k] ?? null;
  return {
    id: sub.id,
    email_address: sub.email_address,
    first_name: sub.first_name,
    state: sub.state,
    created_at: sub.created_at,
    fields,
  };
}

/** Stored records (JSON text, null for an unknown id) as subscribers, parsed in slices of time when given. */
export async function parseRecords(
  raws: ReadonlyArray<string | null | undefined>,
  slices?: TimeSlices,
): Promise<Array<Subscriber | undefined>> {
  const parse = (raw: string | null | undefined) =>
    raw === null || raw === undefined ? undefined : (JSON.parse(raw) as Subscriber);
  return slices ? mapInSlices(raws, parse, slices) : raws.map(parse);
}

export const normalEmail = (email: string) => email.trim().toLowerCase();
export const normalName = (name: string) => identityKey(name);
