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
export interface KitApi {
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
  /** Kit's webhooks (resources/webhooks.ts). */
  webhooks: KitWebhooksApi;
}
