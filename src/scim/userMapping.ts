import type { Subscriber, SubscriberState } from '../kit/types';
import { ENTERPRISE_USER, KIT_USER, LIFECYCLE_FIELDS, type SubscriberFieldMap } from './fieldMap';
import { MAX_EMAIL_LENGTH } from './inputLimits';
import { readSource, writeSource } from '../config/mapping/sourcePath';
import { decodeValue, encodeValue } from './mapping/valueCodec';
import type { GroupRef, ScimBody, ScimUser } from './resources';

// Pure translation between Kit subscribers and SCIM Users (docs/configuration/mapping.md), as the attribute mapping says
// (mapping/*.ts: where each attribute lives, and how its value is written as text and read back). No I/O here;
// groupMapping.ts is its counterpart for Groups.

export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

export type { GroupRef } from './resources';

/** The Kit side of a SCIM write: what POST /v4/subscribers or PUT /v4/subscribers/{id} should carry. */
export interface SubscriberWrite {
  email_address: string;
  /** Absent when the mapping gives first_name no attribute: Kit's first name is then left as it is. */
  first_name?: string | null;
  fields: Record<string, string | null>;
}

const WHITESPACE = /\s/;

/**
 * An address Kit can hold: one "@" with text before it, and a dot inside the domain. Checked by splitting, not
 * by a pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/ backtracks quadratically on "a@" + 50,000 dots + "@",
 * and the length cap comes first so nothing here ever reads more than MAX_EMAIL_LENGTH characters.
 */
export function looksLikeEmail(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_EMAIL_LENGTH * 4) return false;
  const email = v.trim();
  if (email.length > MAX_EMAIL_LENGTH || WHITESPACE.test(email)) return false;
  const at = email.indexOf('@');
  if (at <= 0 || at !== email.lastIndexOf('@')) return false;
  const domain = email.slice(at + 1);
  const dot = domain.indexOf('.', 1);
  return dot !== -1 && dot <= domain.length - 2;
}

const member = (obj: unknown, key: string): unknown =>
  obj !== null && typeof obj === 'object' ? (obj as ScimBody)[key] : undefined;

/**
 * The email Kit should hold for a SCIM user: userName when it is an email, else emails (primary, else work,
 * else first). Undefined when there is none: Kit cannot hold a subscriber without one.
 */
export function kitEmailOf(user: ScimBody): string | undefined {
  if (looksLikeEmail(user.userName)) return user.userName.trim();
  const emails = validEmails(user);
  const chosen =
    emails.find((e) => e.primary === true) ?? emails.find((e) => String(e.type).toLowerCase() === 'work') ?? emails[0];
  return chosen?.value.trim();
}

/** The valid addresses of a User's `emails`, in the order the client sent them. */
function validEmails(user: ScimBody): Array<ScimBody & { value: string }> {
  return (Array.isArray(user.emails) ? (user.emails as unknown[]) : []).filter((e): e is ScimBody & { value: string } =>
    looksLikeEmail(member(e, 'value')),
  );
}

/**
 * The address a write asks Kit to hold for an existing subscriber, and what becomes of its userName. The
 * mapping keeps Kit's address in `emails` (`kit: email_address`, the only attribute allowed there); userName
 * stands for the address only while Kit keeps no userName of its own for the subscriber (`mirrorsAddress`),
 * which is how it reads as the address. So:
 * - emails naming an address other than Kit's: that one (the primary; of two primaries, the one that is new,
 *   since an `add` of a new primary supersedes the old; else work, else the first);
 * - otherwise a userName that mirrors the address and now names another email: that one;
 * - otherwise the address stays (emails or, without any, an email userName, as on a create).
 * A userName that mirrored the address and still names the old one follows the address: kept as it was, it
 * would pin the old address in a field of its own, and a lookup by the old address would go on finding the user.
 */
export function addressChange(
  user: ScimBody,
  held: string,
  mirrorsAddress: boolean,
): { email: string | undefined; user: ScimBody } {
  const same = (a: string) => a.trim().toLowerCase() === held.toLowerCase();
  const emails = validEmails(user);
  const primaries = emails.filter((e) => e.primary === true);
  const chosen =
    primaries.find((e) => !same(e.value)) ??
    primaries[0] ??
    emails.find((e) => String(e.type).toLowerCase() === 'work') ??
    emails[0];
  const fromEmails = chosen?.value.trim();
  const userName = looksLikeEmail(user.userName) ? user.userName.trim() : undefined;
  let email = fromEmails ?? userName;
  if (fromEmails && !same(fromEmails)) email = fromEmails;
  else if (userName && mirrorsAddress && !same(userName)) email = userName;
  // The address Kit holds, in any letter case, is that address as Kit spells it (Kit lower-cases addresses):
  // naming it again is no change, and a userName that mirrors it goes on mirroring it.
  if (email && same(email)) return { email: held, user };
  if (email && mirrorsAddress && !same(email) && typeof user.userName === 'string' && same(user.userName)) {
    return { email, user: { ...user, userName: email } };
  }
  return { email, user };
}

/**
 * Full mapping of a SCIM user onto Kit: PUT semantics, so every mapped field is present (null clears it). A value
 * Kit cannot hold whole (too long, wrong type) is a 400 naming the attribute, raised before any Kit call.
 */
export function userToSubscriberWrite(user: ScimBody, map: SubscriberFieldMap, email: string): SubscriberWrite {
  const fields: Record<string, string | null> = {};
  for (const attr of map.attributes) {
    const value = encodeValue(readSource(user, attr.source), attr.type, attr.path);
    // userName is only kept when the email cannot stand for it exactly.
    // Kit lower-cases emails, so a userName in any other letter case is kept in its own field.
    fields[map.key(attr.label)] =
      attr.path === 'userName' && value === email && email === email.toLowerCase() ? null : value;
  }
  const write: SubscriberWrite = { email_address: email, fields };
  const firstName = map.firstName;
  if (firstName) write.first_name = encodeValue(readSource(user, firstName.source), 'string', firstName.source.text);
  return write;
}

export function isActiveState(state: SubscriberState): boolean {
  return state === 'active';
}

export function isDeleted(sub: Subscriber, map: SubscriberFieldMap): boolean {
  return Boolean(sub.fields?.[map.key(LIFECYCLE_FIELDS.deletedAt)]);
}

/**
 * The top-level attributes a filter reads, as keys of a User (lower case; an extension attribute by its schema
 * URN): a filtered walk builds only these of each row (filterView). `schemas` needs the whole user.
 */
export function userPartsOf(paths: readonly string[]): ReadonlySet<string> | undefined {
  const parts = new Set<string>();
  for (const path of paths) {
    const lower = path.toLowerCase();
    parts.add(lower.startsWith('urn:') ? lower.slice(0, lower.lastIndexOf(':')) : lower.split('.')[0]);
  }
  return parts.has('schemas') ? undefined : parts;
}

/** Where a mapped attribute sits on a User, as userPartsOf names it. */
const partOf = (source: { schema: string; attribute: string }) =>
  (source.schema === CORE_USER ? source.attribute : source.schema).toLowerCase();

/** The SCIM representation of a subscriber (before scimmy applies attributes/excludedAttributes). */
export function subscriberToUser(sub: Subscriber, map: SubscriberFieldMap, groups?: GroupRef[]): ScimUser {
  return userOf(sub, map, groups);
}

/**
 * Only the parts of the User a filter reads (userPartsOf), for deciding a row: a filtered walk of 100,000
 * subscribers decodes one or two fields of each rather than every mapped attribute, and maps in full only
 * the rows of the page it answers.
 */
export function filterView(
  sub: Subscriber,
  map: SubscriberFieldMap,
  parts: ReadonlySet<string> | undefined,
  groups?: GroupRef[],
): ScimUser {
  return userOf(sub, map, groups, parts);
}

function userOf(sub: Subscriber, map: SubscriberFieldMap, groups?: GroupRef[], parts?: ReadonlySet<string>): ScimUser {
  const wants = (part: string) => parts === undefined || parts.has(part);
  // The mapped attributes land where the field map says (paths are configuration), so they are written
  // into plain JSON first; the fixed attributes below give it the ScimUser shape.
  const mapped: ScimBody = {};
  for (const attr of map.attributes) {
    if (parts !== undefined && !parts.has(partOf(attr.source))) continue;
    const value = decodeValue(sub.fields?.[map.key(attr.label)], attr.type);
    if (value !== undefined) writeSource(mapped, attr.source, value);
  }
  const user = { schemas: [CORE_USER], id: String(sub.id), ...mapped } as ScimUser;
  if (wants('username')) user.userName ??= sub.email_address;
  if (sub.first_name && map.firstName && wants(partOf(map.firstName.source)))
    writeSource(user as unknown as ScimBody, map.firstName.source, sub.first_name);
  if (wants('active')) user.active = isActiveState(sub.state);
  // Kit holds exactly one address per subscriber; report it as the one primary work email.
  if (wants('emails')) user.emails = [{ value: sub.email_address, type: 'work', primary: true }];
  // RFC 7643 §2.4: an empty multi-valued attribute is better left out than sent as [].
  if (groups?.length && wants('groups')) user.groups = groups.map((g) => ({ ...g, type: 'direct' as const }));
  if (parts !== undefined) {
    if (parts.has(KIT_USER.toLowerCase())) user[KIT_USER as `urn:${string}`] = { state: sub.state };
    if (parts.has('meta')) user.meta = metaOf(sub, map);
    return user;
  }
  for (const urn of [ENTERPRISE_USER, ...map.mapping.extensions.map((e) => e.id)]) {
    if (user[urn as `urn:${string}`]) user.schemas.push(urn);
  }
  user[KIT_USER as `urn:${string}`] = { state: sub.state };
  user.schemas.push(KIT_USER);
  user.meta = metaOf(sub, map);
  return user;
}

function metaOf(sub: Subscriber, map: SubscriberFieldMap): ScimUser['meta'] {
  const lastModified = sub.fields?.[map.key(LIFECYCLE_FIELDS.lastModified)];
  return { resourceType: 'User', created: sub.created_at, lastModified: lastModified || sub.created_at };
}

/**
 * The fields of `next` that differ from what Kit holds for `current`: PATCH and PUT send only changes, so an
 * unchanged attribute costs no Kit call and is never rewritten.
 */
export function subscriberChanges(current: Subscriber, next: SubscriberWrite): Partial<SubscriberWrite> {
  const changes: Partial<SubscriberWrite> = {};
  if (next.email_address.toLowerCase() !== current.email_address.toLowerCase())
    changes.email_address = next.email_address;
  if (next.first_name !== undefined && (next.first_name ?? null) !== (current.first_name || null))
    changes.first_name = next.first_name;
  const fields: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(next.fields)) {
    if ((value ?? null) !== (current.fields?.[key] ?? null)) fields[key] = value;
  }
  if (Object.keys(fields).length > 0) changes.fields = fields;
  return changes;
}
