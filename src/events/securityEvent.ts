import { randomUUID } from 'node:crypto';
import type { SubscriberChange } from '../scim/journal/changeJournal';
import { changeNameOf, txnOf } from './eventIds';

// One journal change as the claims of a SCIM Security Event Token (RFC 8417 §2.2, profiled by RFC 9967).
//
// Notice-style only (RFC 9967 §2.4 "notice" events): a receiver learns *that* a resource changed and which
// attributes, never their values; it reads the resource through SCIM with its own credential if it needs more.
// RFC 9967 §2.4: a notice carries exactly one of "data" or "attributes", so every notice carries "attributes",
// empty when the write path did not know which attributes changed.

export const SCIM_EVENT = {
  createNotice: 'urn:ietf:params:scim:event:prov:create:notice',
  patchNotice: 'urn:ietf:params:scim:event:prov:patch:notice',
  putNotice: 'urn:ietf:params:scim:event:prov:put:notice',
  delete: 'urn:ietf:params:scim:event:prov:delete',
  activate: 'urn:ietf:params:scim:event:prov:activate',
  deactivate: 'urn:ietf:params:scim:event:prov:deactivate',
} as const;

/** This server's extension: what happened in Kit when a state change was learned from Kit, not made through SCIM. */
export const KIT_EVENT_EXTENSION = 'urn:ietf:params:scim:schemas:extension:kit:2.0:Event';

/** Why a subscriber stopped receiving mail, in Kit's words: its state after the change. */
export type KitReason = 'unsubscribe' | 'bounce' | 'complaint' | 'cancelled' | 'activate';

export interface SetClaims {
  iss: string;
  jti: string;
  iat: number;
  /** RFC 9967 §2.2 (RFC 8417 §2.2): one value for every SET of one change (one per receiver, any re-send). */
  txn: string;
  /**
   * RFC 9967 §2.1 (an RFC 9493 subject identifier, format "scim"): `uri` is the resource's path relative to the
   * SCIM base URI (required); `id` is the resource's SCIM id, which the RFC allows beside `uri` for receivers
   * matching on the id alone.
   */
  sub_id: { format: 'scim'; uri: string; id: string };
  events: Record<string, Record<string, unknown>>;
}

/** The HTTP method of the SCIM request that made a change, when the change came from one (PUT vs PATCH). */
export type ScimMethod = string | undefined;

function reasonOf(state: string | undefined): KitReason | undefined {
  switch (state) {
    case 'inactive':
      return 'unsubscribe';
    case 'bounced':
      return 'bounce';
    case 'complained':
      return 'complaint';
    case 'cancelled':
      return 'cancelled';
    case 'active':
      return 'activate';
    default:
      return undefined;
  }
}

/** A notice event's payload: the attributes changed (names only, never values), empty when not known. */
const notice = (attributes: readonly string[] | undefined) => ({ attributes: [...(attributes ?? [])] });

/**
 * The events one change stands for. SCIM's own writes map one to one (create, PATCH/PUT notice, deactivate,
 * delete); a state learned from Kit (webhook, re-walk, re-read) is an activation or a deactivation with Kit's
 * reason in the extension, since the account was in effect switched off (or on) outside the identity system.
 */
export function eventsOf(change: SubscriberChange, method: ScimMethod): SetClaims['events'] | undefined {
  // The journal only first saw this subscriber in its state (its own state lost): no change to report.
  if (change.firstSeen) return undefined;
  // The extension rides inside the event's payload (RFC 8417 §2.2: an event's payload may carry further members).
  const kit: Record<string, unknown> =
    change.source !== 'scim'
      ? { [KIT_EVENT_EXTENSION]: { reason: reasonOf(change.state), source: change.source } }
      : {};
  switch (change.kind) {
    case 'created':
      // A subscriber Kit first shows already unsubscribed (bounced, …): created and, in effect, deactivated; one
      // SET for both (RFC 8417 §2.2: several events about one subject and one state change may share a SET).
      if (change.source !== 'scim' && change.state !== undefined && change.state !== 'active')
        return { [SCIM_EVENT.createNotice]: notice(change.attributes), [SCIM_EVENT.deactivate]: kit };
      return { [SCIM_EVENT.createNotice]: notice(change.attributes) };
    case 'updated':
      return { [method === 'PUT' ? SCIM_EVENT.putNotice : SCIM_EVENT.patchNotice]: notice(change.attributes) };
    case 'deactivated':
      return { [SCIM_EVENT.deactivate]: kit };
    case 'deleted':
      return { [SCIM_EVENT.delete]: {} };
    case 'state':
      if (change.state === undefined) return undefined;
      return {
        [change.state === 'active' ? SCIM_EVENT.activate : SCIM_EVENT.deactivate]: kit,
      };
    default:
      return undefined;
  }
}

/** The claims common to every receiver's copy of one change; `aud` and `jti` are set per receiver. */
export function claimsOf(
  change: SubscriberChange,
  issuer: string,
  method: ScimMethod,
): Omit<SetClaims, 'jti'> | undefined {
  const events = eventsOf(change, method);
  if (!events) return undefined;
  return {
    iss: issuer,
    iat: Math.floor(change.at / 1000),
    txn: txnOf(issuer, changeNameOf(change)),
    sub_id: { format: 'scim', uri: `/Users/${change.subscriberId}`, id: String(change.subscriberId) },
    events,
  };
}

/** The key ordering per subject rests on: every change of one resource goes out in the order it was made. */
export const subjectOf = (change: SubscriberChange): string => `User:${change.subscriberId}`;

/** A Group change made through SCIM (groups are Kit tags; the journal holds subscribers only). */
export interface GroupChangeNotice {
  groupId: string;
  kind: 'created' | 'patched' | 'replaced' | 'deleted';
  /** `displayName` and/or `members`, as the write changed them (names only). */
  attributes: string[];
  /** When the change was made (ms since the epoch). */
  at: number;
}

/** The claims of one Group change; like a User's, one SET per change, sub_id `/Groups/<id>`. */
export function groupClaimsOf(change: GroupChangeNotice, issuer: string): Omit<SetClaims, 'jti'> {
  const payload = notice(change.attributes);
  const events: SetClaims['events'] =
    change.kind === 'created'
      ? { [SCIM_EVENT.createNotice]: payload }
      : change.kind === 'patched'
        ? { [SCIM_EVENT.patchNotice]: payload }
        : change.kind === 'replaced'
          ? { [SCIM_EVENT.putNotice]: payload }
          : { [SCIM_EVENT.delete]: {} };
  return {
    iss: issuer,
    iat: Math.floor(change.at / 1000),
    txn: randomUUID(),
    sub_id: { format: 'scim', uri: `/Groups/${change.groupId}`, id: change.groupId },
    events,
  };
}

export const groupSubjectOf = (change: GroupChangeNotice): string => `Group:${change.groupId}`;
