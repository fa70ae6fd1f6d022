import type { Bulk } from './resources/bulk';
import type { CustomFields } from './resources/customFields';
import type { Subscribers } from './resources/subscribers';
import type { Tags } from './resources/tags';
import type { KitWebhooksApi } from './resources/webhooks';
import type { Account, CallOptions } from './types';

/**
 * What the rest of the product may ask of Kit: the subset of KitClient (src/kit/client.ts) it uses. Every
 * method is one Kit call unless its documentation says otherwise, and throws the KitError family
 * (src/kit/errors.ts) only for real failures: the answers a caller has a use for (no such subscriber, a name
 * already taken, a tag already removed) are values, so nothing outside src/kit needs Kit's error classes.
 */
/**
 * What the Kit API behind the port can and cannot do, for the SCIM layer to consult instead of asking which
 * version answers (docs/design/kit-v3.md). What one version lacks and the client rebuilds from what it has
 * (no cursors, no bulk tagging) is stated too, for discovery and the docs; only the first flags change
 * behaviour above the port.
 */
export interface KitCapabilities {
  apiVersion: 'v4' | 'v3';
  /** Tags can be renamed (v4 PUT /v4/tags/{id}). Without: group rename is 400 mutability, DELETE keeps the tag. */
  tagRename: boolean;
  /**
   * Tagging a subscriber subscribes its email (v3), which would re-subscribe an unsubscribed one: the client
   * refuses to tag a non-active subscriber, so a deletion tags its tombstone before it unsubscribes.
   */
  taggingSubscribes: boolean;
  /** Many taggings in one call (v4 bulk, 100 per call); without, 2 calls per member. */
  bulkTagging: boolean;
  /** Cursor pages of up to 1,000; without, page numbers of 50 (v3). */
  cursorPaging: boolean;
  /**
   * Set when subscribers are created by subscribing their email to this (reserved) tag, v3 having no create:
   * start-up ensures it exists, so a create never spends a call on it.
   */
  provisioningTag?: string;
}

export const V4_CAPABILITIES: KitCapabilities = {
  apiVersion: 'v4',
  tagRename: true,
  taggingSubscribes: false,
  bulkTagging: true,
  cursorPaging: true,
};

export interface KitApi {
  readonly capabilities: KitCapabilities;
  account(opts?: CallOptions): Promise<Account>;
  subscribers: Pick<
    Subscribers,
    'list' | 'pages' | 'find' | 'findByEmail' | 'upsert' | 'update' | 'unsubscribe' | 'tags'
  >;
  tags: Pick<
    Tags,
    | 'list'
    | 'createIfFree'
    | 'createOrFind'
    | 'renameIfFree'
    | 'tagSubscriber'
    | 'untag'
    | 'subscribers'
    | 'subscriberPages'
  >;
  bulk: Pick<Bulk, 'tagSubscribers'>;
  customFields: Pick<CustomFields, 'ensure'>;
  /** Kit's webhooks (resources/webhooks.ts); absent where the backend does not offer them (the v3 client). */
  webhooks?: KitWebhooksApi;
}
