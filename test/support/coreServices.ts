import { SubscriberFieldMap } from '../../src/scim/fieldMap';
import { DELETED_USERS_TAG } from '../../src/scim/groups/tagCatalog';
import type { GroupWrite } from '../../src/scim/groups/groupEvents';
import { MemoryJournal } from '../../src/scim/journal/memoryJournal';
import { MemoryPageStore } from '../../src/scim/paging/pageStore';
import { buildScimServices } from '../../src/app/scimServices';
import type { ScimServices } from '../../src/scim/services';
import { SubscriberLookups } from '../../src/scim/subscriberLookups';
import type { UserOperation } from '../../src/scim/users';
import { FakeKit, type FakeKitOptions } from './fakeKit';

// The SCIM core (users, groups, membership) over the in-memory Kit, built as the start-up checks build it: the
// custom fields ensured, the services composed, the deleted-users tag in place. What the services report
// outward (metrics, audit) is collected for assertions. No sockets, no Redis.

export interface CoreEvents {
  reactivationRejected: Array<{ operation: UserOperation; email: string }>;
  deprovisioned: Array<{ kind: 'deactivate' | 'delete'; id: string }>;
  createRaced: Array<{ email: string; subscriberId: number }>;
  groupWrites: GroupWrite[];
  membersSkipped: Array<{ groupId: string; ids: string[] }>;
}

export interface Core extends ScimServices {
  kit: FakeKit;
  events: CoreEvents;
  /** Kit field key of a custom field label (e.g. "scim_deleted_at"). */
  key(label: string): string;
}

export const CORE_NOW = Date.parse('2030-03-01T12:00:00Z');

export async function buildCore(opts: FakeKitOptions & { now?: () => number } = {}): Promise<Core> {
  const now = opts.now ?? (() => CORE_NOW);
  const kit = new FakeKit({ ...opts, now });
  const fieldKeys = await kit.customFields.ensure(SubscriberFieldMap.labels());
  const events: CoreEvents = {
    reactivationRejected: [],
    deprovisioned: [],
    createRaced: [],
    groupWrites: [],
    membersSkipped: [],
  };
  const services = buildScimServices({
    kit,
    fieldKeys,
    pageStore: new MemoryPageStore(40, { now, setTimeout: () => ({}), clearTimeout: () => undefined }),
    cacheTtlSeconds: 60,
    filterScanBudget: 1_000_000,
    userEvents: {
      reactivationRejected: (operation, email) => events.reactivationRejected.push({ operation, email }),
      deprovisioned: (kind, id) => events.deprovisioned.push({ kind, id }),
      createRaced: (email, subscriberId) => events.createRaced.push({ email, subscriberId }),
    },
    groupEvents: {
      written: (write) => events.groupWrites.push(write),
      membersSkipped: (groupId, ids) => events.membersSkipped.push({ groupId, ids }),
    },
    now: () => new Date(now()),
    changeTracking: () => ({
      journal: new MemoryJournal({ now, maxSubscribers: 1000 }),
      lookups: new SubscriberLookups({ kit }),
      stampKey: 'scim_last_modified',
    }),
  });
  services.membership.useDeletedTag(await services.catalog.ensure(DELETED_USERS_TAG, { priority: 'background' }));
  kit.clearCalls();
  return { ...services, kit, events, key: (label) => kit.fieldKey(label) };
}
