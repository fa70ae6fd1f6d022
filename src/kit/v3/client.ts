import type { KitApi, KitCapabilities } from '../api';
import type { Account, CallOptions } from '../types';
import { v3AccountAnswer } from './answers';
import { type V3CallerOptions, V3Core } from './core';
import { V3CustomFields } from './customFields';
import { V3Subscribers } from './subscribers';
import { V3Bulk, V3Tags } from './tags';

// Kit's legacy v3 API behind the same port as the v4 client (KitApi), the same caller (limiter, retries, the
// KitError family) and the same answers, so nothing above src/kit knows which version answers. What v3 lacks is
// either rebuilt here from what it has, at the call cost docs/design/kit-v3.md states, or declared in `capabilities` for
// the SCIM layer to consult (kit-api-v3-legacy.txt; docs/design/kit-v3.md).

export interface V3ClientOptions extends V3CallerOptions {
  apiSecret: string;
  /**
   * v3 has no subscriber create: a subscriber comes into being by subscribing an email to a form, a sequence or
   * a tag. Every user provisioned is subscribed to this reserved tag (ensured at start-up: see KitCapabilities.provisioningTag).
   */
  provisioningTag: string;
}

const V3_CAPABILITIES: Omit<KitCapabilities, 'provisioningTag'> = {
  apiVersion: 'v3',
  tagRename: false,
  taggingSubscribes: true,
  bulkTagging: false,
  cursorPaging: false,
};

export class KitV3Client implements KitApi {
  readonly capabilities: KitCapabilities;
  readonly subscribers: V3Subscribers;
  readonly tags: V3Tags;
  readonly bulk: V3Bulk;
  readonly customFields: V3CustomFields;
  private readonly core: V3Core;

  constructor(opts: V3ClientOptions) {
    this.capabilities = { ...V3_CAPABILITIES, provisioningTag: opts.provisioningTag };
    this.core = new V3Core(opts, opts.apiSecret);
    this.tags = new V3Tags(this.core);
    this.subscribers = new V3Subscribers(this.core, this.tags, opts.provisioningTag);
    this.bulk = new V3Bulk(this.tags);
    this.customFields = new V3CustomFields(this.core);
  }

  /** GET /v3/account, answered in the port's (v4) shape. */
  async account(opts?: CallOptions): Promise<Account> {
    const d = await this.core.data(
      {
        method: 'GET',
        endpoint: 'GET /v3/account',
        path: '/v3/account',
        repeat: 'idempotent',
        answer: v3AccountAnswer,
      },
      opts,
    );
    return {
      user: { email: d.primary_email_address ?? '' },
      account: {
        id: 0,
        name: d.name ?? '',
        plan_type: d.plan_type,
        primary_email_address: d.primary_email_address,
      },
    };
  }
}
