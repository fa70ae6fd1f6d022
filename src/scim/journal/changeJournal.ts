import type { SubscriberState } from '../../kit/types';

// The journal of subscriber state changes the server knows of, with the time it learned of each: its own
// writes, Kit's webhooks, and a re-walk of the mirror that finds a subscriber in another state than it knew.
//
// Why it exists: Kit returns no updated_at, so the only time Kit holds is the server's own stamp in a Kit
// custom field. A change made in Kit (an unsubscribe click, a bounce, a complaint) never moves it, so an IGA
// delta read (`meta.lastModified gt T`) would miss it; and writing that stamp into Kit costs a Kit call per
// deactivation. The journal holds the time instead, and meta.lastModified is the later of the Kit stamp and
// the journal's entry (see effectiveLastModified).
//
// Bounded: it keeps the latest change of at most `maxSubscribers` subscribers. It is complete only from its
// `horizon` on (its creation, or the time of the newest change it had to forget): a subscriber that is not
// active and has no entry may have changed state any time before the horizon, so it reports the horizon as
// its lastModified (shown once more in a delta read, never missed). Issue "SCIM security events" reads the
// feed (`read`) and listens (`subscribe`).

/** scim: the server's own write; webhook: a Kit delivery; rewalk: the mirror's walk; reread: any other read. */
export type ChangeSource = 'scim' | 'webhook' | 'rewalk' | 'reread';

export type ChangeKind = 'created' | 'updated' | 'deactivated' | 'deleted' | 'state';

export interface SubscriberChange {
  subscriberId: number;
  /** When the server learned of the change (ms since the epoch). */
  at: number;
  kind: ChangeKind;
  source: ChangeSource;
  /** The subscriber's Kit state after the change. */
  state?: SubscriberState;
  /** The SCIM attributes a SCIM update changed (names only, never values): the security event's notice. */
  attributes?: string[];
  /**
   * The journal had never seen this subscriber, and first saw it in this state (a journal lost to a Redis
   * FLUSHALL or restart, a subscriber past the bound): when it came to be so, and who made it so, is unknown.
   * The entry moves meta.lastModified (a delta read shows the subscriber once more) but claims no change.
   */
  firstSeen?: boolean;
  /**
   * What Kit itself holds that tells this state from an earlier or later one of the same subscriber: the
   * server's last stamp written into Kit (or Kit's created_at). Kit keeps no time of its own state changes, so
   * this is as close as Kit's data comes to naming the change; a re-announcement of it derives the same ids.
   */
  kitStamp?: string;
}

/** Whom a write-ahead intent names: a subscriber by Kit id, or by email before Kit has given it one (a create). */
export type IntentTarget = { subscriberId: number } | { email: string };

/**
 * How long the server's intent to write a state outlives the write's start. A write that fails withdraws it;
 * one that never answers leaves it to expire, and the next read decides. Kit's delivery for a write it applied
 * comes within seconds, before or after its answer (Kit sends it from a background job).
 */
export const INTENT_TTL_MS = 120_000;

/** A subscriber as a read found it; `kitStamp` as in SubscriberChange, `ownWriteAt` as in LearnedFrom. */
export interface ObservedSubscriber {
  id: number;
  state: SubscriberState;
  kitStamp?: string;
  ownWriteAt?: number;
}

/**
 * What a change learned from Kit (a delivery, a walk, a read) found of the server's own writes: `ownWriteAt`,
 * the time of the server's last stamp in Kit (ms). A stamp newer than anything the journal holds for that
 * subscriber (and than its horizon) is a write of the server whose journal entry has not reached the shared
 * journal yet: a replica's spool while Redis was away, or the moment between Kit's answer and the record. The
 * state Kit shows then may be that write's doing, so it is not taken as a change made in Kit until the entry
 * arrives (which records the state itself) or the stamp stops being newer.
 */
export interface LearnedFrom {
  ownWriteAt?: number;
}

/** The key an intent is kept under. */
export function intentKey(target: IntentTarget): string {
  return 'subscriberId' in target ? `id:${target.subscriberId}` : `email:${target.email.trim().toLowerCase()}`;
}

/** What a journal knows of some subscribers at one moment. */
export interface JournalView {
  /** The journal is complete from this time on (ms since the epoch). */
  horizon: number;
  /** Time of the latest change recorded for a subscriber, if any. */
  lastChangeOf(subscriberId: number): number | undefined;
}

export class JournalUnavailableError extends Error {
  constructor(reason: string) {
    super(`The change journal is unavailable: ${reason}`);
    this.name = 'JournalUnavailableError';
  }
}

/**
 * A change learned from Kit that a write of the server explains until that write's journal entry arrives
 * (LearnedFrom): not recorded now; its deliverer tries again later, as when the journal is unavailable.
 */
export class OwnWritePendingError extends JournalUnavailableError {
  constructor(readonly subscriberId: number) {
    super(`subscriber ${subscriberId} carries a write of the server that the journal has not recorded yet`);
    this.name = 'OwnWritePendingError';
  }
}

/** Whether a stamp of the server is newer than what the journal holds of that subscriber (LearnedFrom). */
export function ownWritePending(ownWriteAt: number | undefined, latest: number | undefined, horizon: number): boolean {
  return ownWriteAt !== undefined && ownWriteAt > (latest ?? 0) && ownWriteAt > horizon;
}

export interface ChangeJournal {
  /**
   * Records a change; throws JournalUnavailableError when it could not be kept (Redis down). `done: true`: the
   * change is already made in Kit and nothing will record it again, so listeners hear of it even when it could
   * not be kept (the security events spool while Redis is away). A journal on Redis keeps a change it cannot
   * record now in a local spool and records it when Redis returns; `durable: true`: the caller has another way
   * to keep the change (the stamp in Kit) and takes it over any spool, so the call throws instead. A spooled
   * entry reaches the other replicas only once this replica sees Redis again; meanwhile they would read the
   * state Kit shows as a change made in Kit, where the stamp tells them it is the server's own (LearnedFrom).
   * A change learned from Kit carries `ownWriteAt` and throws OwnWritePendingError while that write explains it;
   * one whose state is the last state the journal holds for that subscriber is no change and is not recorded
   * (a walk that finds the server's own deactivation, made while the mirror could not be written).
   */
  record(change: SubscriberChange, opts?: { done?: boolean; durable?: boolean } & LearnedFrom): Promise<void>;
  /** The latest change times of these subscribers; never throws (a journal that cannot answer says "now"). */
  view(subscriberIds: number[]): Promise<JournalView>;
  /**
   * Subscribers as just read from Kit: a state other than the last one the journal knows is a change (source
   * reread), recorded at `at`; so is a subscriber seen for the first time in a state other than active (it
   * became so at a time the journal never saw, and `at` is the earliest time it can vouch for); any other
   * subscriber it has not seen yet becomes the baseline. A first sighting claims no change (firstSeen): after a
   * lost journal, ignorance must not become "unsubscribed just now". A subscriber whose `ownWriteAt` is pending
   * (LearnedFrom) is left as the journal knows it: the write's own entry decides. With the mirror off
   * this is how a change made in Kit is seen: by the next read of that subscriber (a GET, a lookup, a walk page
   * once its cache expires).
   */
  observe(subs: ObservedSubscriber[], at: number): Promise<void>;
  /** The last state the journal saw for a subscriber (undefined: never seen, or Redis away). */
  lastState(subscriberId: number): Promise<SubscriberState | undefined>;
  /** Changes recorded after `since` (ms), oldest first, at most `limit` (the feed for security events). */
  read(since: number, limit: number): Promise<SubscriberChange[]>;
  /**
   * Write-ahead: the server is about to put a subscriber in `state` through Kit's API, so Kit's webhook for it
   * (which may arrive before Kit's answer) is the server's own write coming back, not a change made in Kit.
   * Best effort: never throws (without it a delivery is re-read, as for any delivery).
   */
  intend(target: IntentTarget, state: SubscriberState, ttlMs?: number): Promise<void>;
  /** The write failed: its intent no longer explains a delivery. Never throws. */
  withdraw(target: IntentTarget): Promise<void>;
  /** Whether the server is putting this subscriber (by id or email) in `state` now; false when unsure. */
  intended(subscriberId: number, email: string | undefined, state: SubscriberState): Promise<boolean>;
  /** Called for every change this process records or learns of; returns the unsubscribe function. */
  subscribe(listener: (change: SubscriberChange) => void): () => void;
}

/**
 * meta.lastModified as the server can prove it: the later of the Kit stamp and the journal's entry; a
 * subscriber that is not active and unknown to the journal may have changed before the journal's horizon, so
 * the horizon stands for it (never an older time that would hide a deactivation from a delta read).
 */
export function effectiveLastModified(
  kitStamp: number,
  state: SubscriberState,
  journalAt: number | undefined,
  horizon: number,
): number {
  if (journalAt !== undefined) return Math.max(kitStamp, journalAt);
  if (state !== 'active' && kitStamp < horizon) return horizon;
  return kitStamp;
}

/** Fan-out helper shared by the journal implementations. */
export class ChangeListeners {
  private readonly listeners = new Set<(change: SubscriberChange) => void>();

  add(listener: (change: SubscriberChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: SubscriberChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own; the journal and the other listeners go on.
      }
    }
  }
}
