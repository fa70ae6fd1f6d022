import { createHash, hash } from 'node:crypto';
import { ScimPreconditionFailed } from '../scim/errors';
import type { ScimGroup, ScimUser } from '../scim/resources';

// Resource versions (RFC 7644 §3.14): weak ETags, in `meta.version` and the ETag header. Kit keeps no version
// or updated_at of its own, so a version is a digest of what the server knows of the resource:
// - a User: everything read from its subscriber (attributes, state, the lastModified stamp), but not `groups`,
//   which is read-only on a User, changed only through Groups (which carry their own versions), and often not
//   read at all (`excludedAttributes=groups`); its version is the same however the user was read;
// - a Group: its id, name and the ids of its members, so only a group read with its members has a version
//   (a group read without them cannot tell whether its membership changed).
// Weak because the representation varies (attributes, member display names) while the resource does not.

function digest(value: unknown): string {
  const text = JSON.stringify(value);
  // crypto.hash (Node ≥ 20.12) is the same SHA-256 without a Hash object per call: a third cheaper per user.
  const sum =
    typeof hash === 'function'
      ? hash('sha256', text, 'base64url')
      : createHash('sha256').update(text).digest('base64url');
  return sum.slice(0, 27);
}

/**
 * Versions of users mapped once from cached subscribers (scim/mappedUsers.ts), by their frozen `meta`: such a
 * user is the same deep-frozen object (plus per-request groups, which no version covers) for as long as the
 * cached page lives, so its digest is taken once rather than on every page served.
 */
const frozenUserVersions = new WeakMap<object, string>();

export function userVersion(user: ScimUser): string {
  const frozen = user.meta !== null && typeof user.meta === 'object' && Object.isFrozen(user.meta);
  const remembered = frozen ? frozenUserVersions.get(user.meta) : undefined;
  if (remembered !== undefined) return remembered;
  const { groups: _groups, meta, ...rest } = user;
  const { location: _location, version: _version, ...stamps } = meta ?? {};
  const version = `W/"${digest({ ...rest, meta: stamps })}"`;
  if (frozen) frozenUserVersions.set(meta, version);
  return version;
}

/** Undefined when the group was read without its members. */
export function groupVersion(group: ScimGroup): string | undefined {
  if (!Array.isArray(group.members)) return undefined;
  const members = group.members.map((m) => String(m.value)).sort();
  return `W/"${digest({ id: String(group.id), displayName: group.displayName, members })}"`;
}

/** The opaque part of an entity tag, for weak comparison (RFC 7232 §2.3.2): `W/"x"` and `"x"` are the same. */
function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}

/** Whether an If-Match / If-None-Match header (`*`, or a list of entity tags) names this version. */
export function headerMatches(header: string, version: string): boolean {
  const tags = header.split(',').map((t) => t.trim());
  return tags.includes('*') || tags.some((t) => opaque(t) === opaque(version));
}

/**
 * Checks an If-Match precondition against the resource's current version; a mismatch is a 412 with no
 * scimType (RFC 7644 §3.14). `current` undefined: the resource's version cannot be known (never for the
 * resources this is called for).
 */
export function assertIfMatch(header: string, current: string | undefined, what: string): void {
  // The header is the client's text: matched, never echoed.
  if (current !== undefined && headerMatches(header, current)) return;
  throw new ScimPreconditionFailed(
    `${what} has changed since it was read: If-Match names none of its current version (${current ?? 'unknown'}). Read it again and retry.`,
  );
}
