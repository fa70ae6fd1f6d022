import type {
  Account,
  BulkResult,
  CallOptions,
  CustomField,
  Page,
  PageRequest,
  Subscriber,
  SubscriberInput,
  SubscriberQuery,
  SubscriberState,
  SubscriberUpdate,
  Tag,
  TaggedSubscriber,
  Tagging,
} from './types';
import type { KitWebhooksApi } from './webhooks';

/**
 * What the rest of the product may ask of Kit. Implemented by KitClient (src/kit/client.ts), the only code
 * that knows Kit's URLs. Every method is one Kit call unless it says otherwise; every method throws the
 * KitError family (src/kit/errors.ts).
 */
export interface KitApi {
  account(opts?: CallOptions): Promise<Account>;

  subscribers: {
    /** One page of GET /v4/subscribers (per_page defaults to 1000). */
    list(query: SubscriberQuery, page?: PageRequest, opts?: CallOptions): Promise<Page<Subscriber>>;
    /** Walks the cursor pages (per_page 1000), one Kit call per page. */
    pages(query: SubscriberQuery, opts?: CallOptions & { startAfter?: string | null }): AsyncIterable<Page<Subscriber>>;
    get(id: number, opts?: CallOptions): Promise<Subscriber>;
    /** Exact match over every state (status=all); null when no subscriber has that email. */
    findByEmail(email: string, opts?: CallOptions): Promise<Subscriber | null>;
    /**
     * POST /v4/subscribers: Kit's upsert. `created` is true on 201. Verifies the echo: any sent field value
     * that did not stick raises KitFieldNotStoredError.
     */
    upsert(input: SubscriberInput, opts?: CallOptions): Promise<{ subscriber: Subscriber; created: boolean }>;
    /** PUT /v4/subscribers/{id}; verifies the echo like upsert. 422 "already been taken" on a used email. */
    update(id: number, input: SubscriberUpdate, opts?: CallOptions): Promise<Subscriber>;
    /**
     * POST /v4/subscribers/{id}/unsubscribe. One-way: Kit has no API to reactivate. `current` is the subscriber
     * as the caller just wrote it: when Kit answers with its documented bare 204, it stands in (as "inactive")
     * for the read-back that would otherwise cost a second call.
     */
    unsubscribe(id: number, opts?: CallOptions, current?: Subscriber): Promise<Subscriber>;
    /** Every tag of one subscriber (all pages). */
    tags(id: number, opts?: CallOptions): Promise<Tag[]>;
  };

  tags: {
    /** Every tag in the account (all pages). */
    list(opts?: CallOptions): Promise<Tag[]>;
    create(name: string, opts?: CallOptions): Promise<Tag>;
    rename(id: number, name: string, opts?: CallOptions): Promise<Tag>;
    tagSubscriber(tagId: number, subscriberId: number, opts?: CallOptions): Promise<void>;
    /** 404 when the subscriber does not carry the tag. */
    untagSubscriber(tagId: number, subscriberId: number, opts?: CallOptions): Promise<void>;
    /** One page of GET /v4/tags/{id}/subscribers. */
    subscribers(
      tagId: number,
      query?: { status?: SubscriberState | 'all' },
      page?: PageRequest,
      opts?: CallOptions,
    ): Promise<Page<TaggedSubscriber>>;
    subscriberPages(
      tagId: number,
      query?: { status?: SubscriberState | 'all' },
      opts?: CallOptions,
    ): AsyncIterable<Page<TaggedSubscriber>>;
  };

  bulk: {
    /** POST /v4/bulk/tags/subscribers in synchronous chunks of 100: ceil(n/100) calls. */
    tagSubscribers(taggings: Tagging[], opts?: CallOptions): Promise<BulkResult<TaggedSubscriber, Tagging>>;
    /** POST /v4/bulk/subscribers in synchronous chunks of 100. */
    upsertSubscribers(
      subscribers: SubscriberInput[],
      opts?: CallOptions,
    ): Promise<BulkResult<Subscriber, SubscriberInput>>;
  };

  /** Kit's webhooks (src/kit/webhooks.ts). */
  webhooks: KitWebhooksApi;

  customFields: {
    list(opts?: CallOptions): Promise<CustomField[]>;
    create(label: string, opts?: CallOptions): Promise<CustomField>;
    /** Makes sure every label exists (creating the missing ones) and returns label → key. */
    ensure(labels: string[], opts?: CallOptions): Promise<Map<string, string>>;
  };
}
