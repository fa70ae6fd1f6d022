import { SUBSCRIBER_STATES, type SubscriberState } from './kitTypes';
import type { CustomFieldCatalog } from './customFieldCatalog';
import { ChangeLog } from './keyedSequence';
import type { SubscriberRecord, TagRecord } from './records';
import { WebhookRegistry } from './webhookRegistry';

// The tables of a sandbox account, with their indexes. SandboxStore applies Kit's rules to them; the snapshot
// codec (snapshot.ts) saves and restores them whole. Kept apart so that neither has to know the other.

export const emptyStateCounts = (): Record<SubscriberState, number> =>
  Object.fromEntries(SUBSCRIBER_STATES.map((s) => [s, 0])) as Record<SubscriberState, number>;

export class AccountTables {
  /** Every subscriber by ascending id (ids only grow and Kit never deletes). */
  subs: SubscriberRecord[] = [];
  readonly byId = new Map<number, SubscriberRecord>();
  /** By normalised (lower-cased) email. */
  readonly byEmail = new Map<string, SubscriberRecord>();
  /** Subscribers by time of last change, and cancelled ones by time of cancellation: Kit's sort orders. */
  readonly updated = new ChangeLog<SubscriberRecord>();
  readonly cancelled = new ChangeLog<SubscriberRecord>();
  stateCounts = emptyStateCounts();
  nextSubscriberId = 1;

  readonly tags = new Map<number, TagRecord>();
  /** By lower-cased name: Kit's tag names are unique regardless of case. */
  readonly tagsByName = new Map<string, TagRecord>();
  nextTagId = 1;
  taggingCount = 0;

  readonly webhooks = new WebhookRegistry();

  constructor(readonly customFields: CustomFieldCatalog) {}

  clear(): void {
    this.subs = [];
    this.byId.clear();
    this.byEmail.clear();
    this.updated.clear();
    this.cancelled.clear();
    this.stateCounts = emptyStateCounts();
    this.nextSubscriberId = 1;
    this.tags.clear();
    this.tagsByName.clear();
    this.nextTagId = 1;
    this.taggingCount = 0;
    this.webhooks.clear();
    this.customFields.clear();
  }
}
