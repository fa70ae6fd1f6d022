import type { ChangeJournal } from './journal/changeJournal';
import type { GroupStamps } from './journal/groupStamps';
import type { LookupSnapshot } from './lookupSnapshot';
import type { MirrorStore } from './mirror/mirrorStore';
import type { SubscriberMirror } from './mirror/subscriberMirror';
import type { WebhookWatch } from './mirror/webhookWatch';
import type { SubscriberLookups } from './subscriberLookups';

// The change tracking of one Kit account: the change journal, the lookup snapshot, the subscriber mirror
// (MIRROR=on) and the lookups that use them (src/app/changeTracking.ts builds them).

export interface ChangeTracking {
  journal: ChangeJournal;
  /** Groups' last-modified stamps (Kit tags keep none). */
  groupStamps?: GroupStamps;
  snapshot?: LookupSnapshot;
  mirror?: SubscriberMirror;
  mirrorStore?: MirrorStore;
  /** Whether Kit's webhooks still arrive (mirror and webhooks on). */
  watch?: WebhookWatch;
  lookups: SubscriberLookups;
  /** The field key of the server's stamp in Kit (names a state in the journal: SubscriberChange.kitStamp). */
  stampKey: string;
  /** Stops background work (the journal's spool retries); what it holds stays in its file. */
  stop?(): void;
}
