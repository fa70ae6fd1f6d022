import type { Subscriber } from '../kit/types';
import type { SubscriberFieldMap } from './fieldMap';
import { deepFreeze } from './paging/pageStore';
import { type GroupRef, subscriberToUser } from './userMapping';

// Users of cached list pages, mapped once per subscriber (issue #14). The page caches hand out the same frozen
// subscriber objects to every request (pageStore.ts), so the SCIM user each one maps to is worked out once and
// kept, frozen, for as long as the cached page lives (a WeakMap: it goes with the page). Only User.groups,
// which comes from the membership index and changes on its own, is added per request.

const mapped = new WeakMap<Subscriber, { fields: SubscriberFieldMap; user: Record<string, any> }>();

/** subscriberToUser, memoised for frozen (cached) subscribers; never mutate what it returns. */
export function mappedUser(sub: Subscriber, fields: SubscriberFieldMap, groups?: GroupRef[]): Record<string, any> {
  // A subscriber that is not frozen may still change (a write's answer): map it afresh.
  if (!Object.isFrozen(sub)) return subscriberToUser(sub, fields, groups);
  let entry = mapped.get(sub);
  if (!entry || entry.fields !== fields) {
    entry = { fields, user: deepFreeze(subscriberToUser(sub, fields)) };
    mapped.set(sub, entry);
  }
  // The attributes' order is the renderers' concern (they follow the schema), so groups may come last.
  return groups?.length ? { ...entry.user, groups: groups.map((g) => ({ ...g, type: 'direct' })) } : entry.user;
}
