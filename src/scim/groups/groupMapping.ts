import type { Tag, TaggedSubscriber } from '../../kit/types';
import type { SubscriberFieldMap } from '../fieldMap';
import type { MemberRef, ScimGroup } from '../resources';
import { subscriberToUser } from '../userMapping';

// Pure translation between Kit tags and SCIM Groups (docs/configuration/mapping.md), beside userMapping.ts. No I/O;
// which tags are groups, and their display names, are the TagCatalog's (a configured prefix).

export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * The SCIM representation of a group tag. Kit tags carry no modification time: lastModified is the creation
 * (docs/provisioning.md "Limitations"). `members` is left out when the caller did not read them.
 */
export function tagToGroup(tag: Tag, displayName: string, members?: MemberRef[]): ScimGroup {
  const group: ScimGroup = {
    schemas: [CORE_GROUP],
    id: String(tag.id),
    displayName,
    meta: { resourceType: 'Group', created: tag.created_at, lastModified: tag.created_at },
  };
  if (members) group.members = members;
  return group;
}

/** A member as Kit lists it: the subscriber's id, and its userName as the display. */
export function subscriberToMember(s: TaggedSubscriber, fields: SubscriberFieldMap): MemberRef {
  return { value: String(s.id), display: subscriberToUser(s, fields).userName, type: 'User' };
}

/** The members a create names, answered without reading them back from Kit (no display known). */
export function unreadMembers(ids: string[]): MemberRef[] {
  return ids.map((id) => ({ value: id, type: 'User' as const }));
}
