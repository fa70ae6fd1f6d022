import type { Subscriber } from '../kit/types';
import type { ScimUser } from './resources';
import type { SubscriberFieldMap } from './fieldMap';
import { deepFreeze } from './paging/pageStore';
import { type GroupRef, subscriberToUser } from './userMapping';

// Users of cached list pages, mapped once per subscriber. The page caches hand out the same frozen
// subscriber objects to every request (pageStore.ts), so the SCIM user each one maps to is worked out once and
// kept, frozen, for as long as the cached page lives (a WeakMap: it goes with the page). Only User.groups,
// which comes from the membership index and changes on its own, is added per request.
//
// Kept from the second time a subscriber is listed: a walk lists each user once, and keeping users (and their
// texts, see http/listFragments.ts) nobody asks for again only made garbage and work for the collector.

interface Mapped {
  fields: SubscriberFieldMap;
  user: ScimUser;
  /** The user with the groups it was last listed with, and those groups as text (value and display of each). */
  withGroups?: { groups: string; user: ScimUser };
}

const mapped = new WeakMap<Subscriber, Mapped>();
const listedOnce = new WeakSet<Subscriber>();

function groupsText(groups: GroupRef[]): string {
  let text = '';
  for (const g of groups) text += `${g.value}\u0000${g.display}\u0001`;
  return text;
}

/** subscriberToUser, memoised for frozen (cached) subscribers; never mutate what it returns. */
export function mappedUser(sub: Subscriber, fields: SubscriberFieldMap, groups?: GroupRef[]): ScimUser {
  // A subscriber that is not frozen may still change (a write's answer): map it afresh.
  if (!Object.isFrozen(sub)) return subscriberToUser(sub, fields, groups);
  let entry = mapped.get(sub);
  if (!entry && !listedOnce.has(sub)) {
    listedOnce.add(sub);
    return subscriberToUser(sub, fields, groups);
  }
  if (!entry || entry.fields !== fields) {
    entry = { fields, user: deepFreeze(subscriberToUser(sub, fields)) };
    mapped.set(sub, entry);
  }
  if (!groups?.length) return entry.user;
  // Memberships change rarely: the user with the same groups is the same frozen object as on the last page
  // served, which lets a list answer reuse the text it made of it (http/listFragments.ts). The attributes' order
  // is the renderers' concern (they follow the schema), so groups may come last.
  const text = groupsText(groups);
  if (entry.withGroups?.groups !== text) {
    const user: ScimUser = deepFreeze({
      ...entry.user,
      groups: groups.map((g) => ({ ...g, type: 'direct' as const })),
    });
    entry.withGroups = { groups: text, user };
  }
  return entry.withGroups!.user;
}
