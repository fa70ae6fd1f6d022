import { accountAnswer } from './answers';
import { KitCaller, type KitCallerOptions } from './caller';
import { Bulk } from './resources/bulk';
import { CustomFields, type KnownFieldKeys } from './resources/customFields';
import { Subscribers } from './resources/subscribers';
import { Tags } from './resources/tags';
import { webhookCalls, type KitWebhooksApi } from './resources/webhooks';
import { defaultTokenStore } from './tokenStore';
import { type KitApi, V4_CAPABILITIES } from './api';
import type { Account, CallOptions } from './types';

// Kit v4, one module per Kit resource (resources/*.ts) over one core caller (caller.ts: limiter, credentials,
// transport, retries). The only code that knows Kit's URLs; it fails with the KitError family (errors.ts).

export type KitClientOptions = KitCallerOptions;

export { BULK_CHUNK } from './resources/bulk';

export class KitClient implements KitApi {
  readonly capabilities = V4_CAPABILITIES;
  readonly subscribers: Subscribers;
  readonly tags: Tags;
  readonly bulk: Bulk;
  readonly customFields: CustomFields;
  readonly webhooks: KitWebhooksApi;
  private readonly caller: KitCaller;

  constructor(opts: KitClientOptions) {
    this.caller = new KitCaller({ ...opts, tokenStore: opts.tokenStore ?? defaultTokenStore(opts.credentials) });
    // Shared by the two resources it concerns: the fields listed decide how a 202 echo is checked.
    const fieldKeys: KnownFieldKeys = {};
    this.subscribers = new Subscribers(this.caller, fieldKeys);
    this.tags = new Tags(this.caller);
    this.bulk = new Bulk(this.caller);
    this.customFields = new CustomFields(this.caller, fieldKeys);
    this.webhooks = webhookCalls(this.caller);
  }

  /** GET /v4/account: the cheapest call that proves the credentials (readiness). */
  async account(opts?: CallOptions): Promise<Account> {
    return this.caller.data(
      { method: 'GET', endpoint: 'GET /v4/account', path: '/v4/account', repeat: 'idempotent', answer: accountAnswer },
      opts,
    );
  }
}
