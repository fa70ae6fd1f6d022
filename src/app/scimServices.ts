import type { KitApi } from '../kit/api';
import { SubscriberFieldMap } from '../scim/fieldMap';
import type { AttributeMapping } from '../config/mapping/model';
import { type GroupEvents, GroupDirectory } from '../scim/groups/groups';
import { TagMembership } from '../scim/groups/membership';
import { TagCatalog } from '../scim/groups/tagCatalog';
import { CursorPager } from '../scim/paging/cursorPager';
import type { PageStore } from '../scim/paging/pageStore';
import type { PageCursors } from '../scim/paging/pageCursors';
import type { ChangeTracking } from '../scim/changeTracking';
import { UserDirectory, type UserEvents } from '../scim/users';
import type { ScimServices } from '../scim/services';
import type { UnmappedPolicy } from '../scim/unmappedAttributes';
import type { UserNameClaims } from '../scim/userNameClaims';

// The SCIM services and how they share state, built from what the start-up checks established (the reserved
// field keys) without any Kit call of its own: construction only, so it can be read, and tested, on its own.

export interface ScimServiceDeps {
  kit: KitApi;
  /** Reserved field label → Kit field key, as ensured at start-up. */
  fieldKeys: Map<string, string>;
  /** Where each SCIM attribute lives in Kit (config.scim.mapping). */
  mapping?: AttributeMapping;
  /** What a write does with attributes the mapping does not hold (config.scim.unmappedAttributes). */
  unmapped?: UnmappedPolicy;
  pageStore: PageStore;
  /** Lifetime of the tag list, membership index and cached pages. */
  cacheTtlSeconds: number;
  /** Terms × rows one request's filtered scan may cost (FILTER_SCAN_BUDGET). */
  filterScanBudget: number;
  groupTagPrefix?: string;
  /** What users and groups report beyond their answers (metrics, audit, logs); `changed` is wired here. */
  userEvents: Omit<UserEvents, 'changed'>;
  groupEvents: Omit<GroupEvents, 'changed'>;
  now?: () => Date;
  /** RFC 9865 cursors of this tenant (signed with its derived key); absent over Kit v3. */
  cursors?: PageCursors;
  /** Builds the change journal, lookup snapshot and mirror over the field map. */
  changeTracking: (fields: SubscriberFieldMap) => ChangeTracking;
  /** Who may write a non-email userName now: shared by the replicas on one Redis. */
  userNameClaims?: UserNameClaims;
}

export function buildScimServices(deps: ScimServiceDeps): ScimServices {
  const { kit, pageStore } = deps;
  const fields = new SubscriberFieldMap(deps.fieldKeys, deps.mapping);
  // Every write on any replica bumps a shared generation; the tag list and the membership index follow it.
  const validity = { ttlMs: deps.cacheTtlSeconds * 1000, generation: () => pageStore.generation('groups') };
  const catalog = new TagCatalog(kit, { ...validity, groupPrefix: deps.groupTagPrefix });
  const membership = new TagMembership(kit, catalog, validity);
  const pager = new CursorPager(pageStore, { ttlSeconds: deps.cacheTtlSeconds, scanBudget: deps.filterScanBudget });
  const tracking = deps.changeTracking(fields);
  const users = new UserDirectory({
    kit,
    fields,
    pager,
    groups: membership,
    events: {
      ...deps.userEvents,
      changed: async () => {
        await pageStore.bumpGeneration('users');
      },
    },
    now: deps.now,
    journal: tracking.journal,
    lookups: tracking.lookups,
    mirror: tracking.mirror,
    unmapped: deps.unmapped,
    cursors: deps.cursors,
    userNameClaims: deps.userNameClaims,
  });
  const groups = new GroupDirectory({
    kit,
    catalog,
    membership,
    fields,
    stamps: tracking.groupStamps,
    now: deps.now,
    cursors: deps.cursors,
    events: {
      ...deps.groupEvents,
      changed: async () => {
        // This replica's own write: the caches it kept exact in place stay usable.
        const generation = await pageStore.bumpGeneration('groups');
        if (generation === undefined) return;
        membership.adoptGeneration(generation);
        catalog.adoptGeneration(generation);
      },
    },
  });
  return { users, groups, membership, catalog, fields, pageStore, tracking, userSchema: users.schema };
}
