import { createHash } from 'node:crypto';
import type { SubscriberChange } from '../scim/journal/changeJournal';

// The ids of a SET derived from the change it reports, not drawn at random: a change announced again (a
// journal lost and rebuilt, a Kit delivery read once more, a replica replaying what it queued) carries the same
// `txn` and, per receiver, the same `jti`, so a receiver that has it already drops it as a duplicate
// (RFC 8417 §2.2: the jti is unique per SET; the txn ties together the SETs of one change).

/** This server's namespace for name-based UUIDs (RFC 9562 §5.5; a random UUID fixed once). */
const NAMESPACE = Buffer.from('6f1c2b1e9a4d4f0f8b7e3c5a2d9e4b71', 'hex');

/** A UUIDv5 (RFC 9562 §5.5): SHA-1 of the namespace and the name, version and variant bits set. */
export function nameBasedUuid(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * What names one change of a subscriber. The server's own write: its kind and the time it stamped (the same
 * time Kit holds in the stamp field). A state learned from Kit: the state and what Kit holds that tells it from
 * the subscriber's other states (SubscriberChange.kitStamp), whichever way it was learned (webhook, walk,
 * re-read), so learning it twice names it once; without that, the time it was learned.
 */
export function changeNameOf(change: SubscriberChange): string {
  const subject = `User:${change.subscriberId}`;
  if (change.source === 'scim')
    return `${subject}|scim|${change.kind}|${change.at}|${(change.attributes ?? []).join(',')}`;
  const kind = change.kind === 'created' ? 'created' : 'state';
  return `${subject}|kit|${kind}|${change.state ?? ''}|${change.kitStamp ?? `at:${change.at}`}`;
}

/** The txn of a change's SETs. */
export function txnOf(issuer: string, changeName: string): string {
  return nameBasedUuid(`txn|${issuer}|${changeName}`);
}

/** The jti of one receiver's SET of a change (one per receiver, so the txn alone will not do). */
export function jtiOf(txn: string, audience: string): string {
  return nameBasedUuid(`jti|${txn}|${audience}`);
}
