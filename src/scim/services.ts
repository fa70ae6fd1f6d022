import type { SubscriberFieldMap } from './fieldMap';
import type { GroupDirectory } from './groups/groups';
import type { TagMembership } from './groups/membership';
import type { TagCatalog } from './groups/tagCatalog';
import type { PageStore } from './paging/pageStore';
import type { ChangeTracking } from './changeTracking';
import type { UserDirectory } from './users';
import type { UserSchema } from './userSchema';

// The SCIM services of one Kit account, as the HTTP layer and the tenant use them (src/app/scimServices.ts
// builds them).

export interface ScimServices {
  users: UserDirectory;
  groups: GroupDirectory;
  membership: TagMembership;
  catalog: TagCatalog;
  fields: SubscriberFieldMap;
  pageStore: PageStore;
  /** The change journal and the lookups (snapshot, mirror). */
  tracking: ChangeTracking;
  /** The User schema of `mapping`: services built with another mapping in this process have their own. */
  userSchema: UserSchema;
}
