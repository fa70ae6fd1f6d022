import { createHash } from 'node:crypto';
import type { Tag, TaggedSubscriber } from '../../kit/types';
import type { SubscriberFieldMap } from '../fieldMap';
import type { MemberRef, ScimGroup } from '../resources';
import { subscriberToUser } from '../userMapping';

// Pure translation between Kit tags and SCIM Groups (docs/configuration/mapping.md), beside userMapping.ts. No I/O;
// which tags are groups, and their display names, are the TagCatalog's (a configured prefix).

export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * The SCIM representation of a group tag. Kit tags carry no modification time: lastModified is the later of
 * the creation and `changedAt`, the server's stamp of the latest change it knows of (journal/groupStamps.ts).
 * `members` is left out when the caller did not read them.
 */
export function tagToGroup(tag: Tag, displayName: string, members?: MemberRef[], changedAt = 0): ScimGroup {
  const created = Date.parse(tag.created_at);
  const lastModified =
    Number.isFinite(created) && changedAt > created ? new Date(changedAt).toISOString() : tag.created_at;
  const group: ScimGroup = {
    schemas: [CORE_GROUP],
    id: String(tag.id),
    displayName,
    meta: { resourceType: 'Group', created: tag.created_at, lastModified },
  };
  if (members) group.members = members;
  return group;
}

/** A member as Kit lists it: the subscriber's id, and its userName as the display. */
export function subscriberToMember(s: TaggedSubscriber, fields: SubscriberFieldMap): MemberRef {
  return { value: String(s.id), display: subscriberToUser(s, fields).userName, type: 'User' };
}

/** A digest of member ids, independent of their order: what a group's stamp compares between reads. */
export function membersDigest(members: MemberRef[]): string {
  const ids = members
    .map((m) => String(m.value))
    .sort()
    .join(',');
  return createHash('sha256').update(ids).digest('base64url').slice(0, 22);
}
