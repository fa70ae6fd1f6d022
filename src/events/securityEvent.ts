import { randomUUID } from 'node:crypto';
import type { SubscriberChange } from '../scim/journal/changeJournal';
import { changeNameOf, txnOf } from './eventIds';

// One journal change as the claims of a SCIM Security Event Token (RFC 8417 §2.2, profiled by RFC 9967, written
// from draft-ietf-scim-events: the RFC's final text was not at hand, and the event URIs and claim names below are
// the draft's, unchanged in the RFC as far as we know).
//
// Notice-style only (the draft's §2.4 "notice" events): a receiver learns *that* a resource changed and which
// attributes, never their values; it reads the resource through SCIM with its own credential if it needs more.

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
  /** RFC 8417 §2.2: ties the SETs of one change (one per receiver) together. */
  txn: string;
  /** RFC 9493 subject identifier, format "scim" (draft-ietf-scim-events §2.2): the resource's relative URI. */
  sub_id: { format: 'scim'; uri: string };
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

/**
 * The events one change stands for. SCIM's own writes map one to one (create, PATCH/PUT notice, deactivate,
 * delete); a state learned from Kit (webhook, re-walk, re-read) is an activation or a deactivation with Kit's
 * reason in the extension, since the account was in effect switched off (or on) outside the identity system.
 */
export function eventsOf(change: SubscriberChange, method: ScimMethod): SetClaims['events'] | undefined {
  // The journal only first saw this subscriber in its state (its own state lost): no change to report.
  if (change.firstSeen) return undefined;
  // The extension rides inside the event's payload (an extension attribute of the event, as the draft allows).
  const kit: Record<string, unknown> =
    change.source !== 'scim'
      ? { [KIT_EVENT_EXTENSION]: { reason: reasonOf(change.state), source: change.source } }
      : {};
  switch (change.kind) {
    case 'created':
      // A subscriber Kit first shows already unsubscribed (bounced, …): created and, in effect, deactivated; one
      // SET for both (RFC 8417 §2.2: several events about one subject and one state change may share a SET).
      if (change.source !== 'scim' && change.state !== undefined && change.state !== 'active')
        return { [SCIM_EVENT.createNotice]: {}, [SCIM_EVENT.deactivate]: kit };
      return { [SCIM_EVENT.createNotice]: {} };
    case 'updated':
      // The draft's notice names the attributes changed (never their values), when the write path knew them.
      return {
        [method === 'PUT' ? SCIM_EVENT.putNotice : SCIM_EVENT.patchNotice]: change.attributes?.length
          ? { attributes: [...change.attributes] }
          : {},
      };
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
    sub_id: { format: 'scim', uri: `/Users/${change.subscriberId}` },
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
  const notice = change.attributes.length > 0 ? { attributes: [...change.attributes] } : {};
  const events: SetClaims['events'] =
    change.kind === 'created'
      ? { [SCIM_EVENT.createNotice]: notice }
      : change.kind === 'patched'
        ? { [SCIM_EVENT.patchNotice]: notice }
        : change.kind === 'replaced'
          ? { [SCIM_EVENT.putNotice]: notice }
          : { [SCIM_EVENT.delete]: {} };
  return {
    iss: issuer,
    iat: Math.floor(change.at / 1000),
    txn: randomUUID(),
    sub_id: { format: 'scim', uri: `/Groups/${change.groupId}` },
    events,
  };
}

export const groupSubjectOf = (change: GroupChangeNotice): string => `Group:${change.groupId}`;
