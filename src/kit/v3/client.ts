import type { KitApi, KitCapabilities } from '../api';
import { KitCaller, type KitCallerOptions, withoutUndefined } from '../caller';
import { KitError, KitNotFoundError, KitRequestError, KitValidationError, KitWritePendingError } from '../errors';
import { unstoredKeys, verifyEcho } from '../fieldEcho';
import { findField } from '../resources/customFields';
import { findTag } from '../resources/tags';
import type { KitRequest } from '../transport';
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
} from '../types';
import { nextCursor, readCursor, type Segment } from './pageCursor';
import { secretRedactor, signed } from './signing';

// Kit's legacy v3 API behind the same port as the v4 client (KitApi), the same caller (limiter, retries, the
// KitError family) and the same answers, so nothing above src/kit knows which version answers. What v3 lacks is
// either rebuilt here from what it has, at the call cost the README states, or declared in `capabilities` for
// the SCIM layer to consult (kit-api-v3-legacy.txt; README "Kit v3 accounts").

export interface V3ClientOptions extends Omit<KitCallerOptions, 'credentials' | 'tokenStore'> {
  apiSecret: string;
  /**
   * v3 has no subscriber create: a subscriber comes into being by subscribing an email to a form, a sequence or
   * a tag. Every user provisioned is subscribed to this reserved tag (created when first needed).
   */
  provisioningTag: string;
}

type TagSubscription = { created_at?: string; subscriber: Subscriber };

const V3_CAPABILITIES: Omit<KitCapabilities, 'provisioningTag'> = {
  apiVersion: 'v3',
  tagRename: false,
  taggingSubscribes: true,
  bulkTagging: false,
  cursorPaging: false,
};

class V3Core {
  readonly caller: KitCaller;
  /** Field keys of the account, for the echo check of writes (see fieldEcho.ts). */
  fieldKeys?: Set<string>;

  constructor(
    opts: V3ClientOptions,
    private readonly apiSecret: string,
  ) {
    this.caller = new KitCaller({
      ...opts,
      credentials: { kind: 'v3Secret', apiSecret },
      redact: secretRedactor(apiSecret),
    });
  }

  call(req: KitRequest, opts?: CallOptions, accept404 = false) {
    return this.caller.call(signed(req, this.apiSecret), opts, accept404 ? { acceptStatus: (s) => s === 404 } : {});
  }

  createOrFind<T>(
    req: KitRequest,
    opts: CallOptions | undefined,
    read: (d: any) => T,
    lookup: () => Promise<T | undefined>,
    clash: 'find' | 'own',
  ) {
    return this.caller.createOrFind(signed(req, this.apiSecret), opts, read, lookup, clash);
  }
}

export class V3Subscribers {
  private usersTag?: Promise<Tag>;

  constructor(
    private readonly core: V3Core,
    private readonly tagsApi: V3Tags,
    private readonly provisioningTag: string,
  ) {}

  /**
   * One v3 page (50 subscribers, Kit's fixed size: `perPage` is ignored). status=all walks the active list, then
   * the unsubscribed; includeTotalCount on the first page of such a walk costs one more call (the second list's
   * total).
   */
  async list(query: SubscriberQuery, page: PageRequest = {}, opts?: CallOptions): Promise<Page<Subscriber>> {
    const status = query.status ?? 'active';
    const segments: Segment[] = status === 'active' ? ['a'] : status === 'all' ? ['a', 'c'] : ['c'];
    const at = readCursor(page.after, segments[0]);
    const answer = await this.segmentPage(query, at.segment, at.page, opts);
    let items = answer.subscribers;
    if (status !== 'all' && status !== 'active') items = items.filter((s) => s.state === status);
    const next = nextCursor(at, answer.total_pages, segments);
    const result: Page<Subscriber> = {
      items,
      pagination: {
        has_previous_page: at.page > 1 || at.segment !== segments[0],
        has_next_page: next !== null,
        start_cursor: `${at.segment}:${at.page}`,
        end_cursor: next,
        per_page: answer.subscribers.length,
      },
    };
    if (page.includeTotalCount) {
      let total = answer.total_subscribers;
      for (const other of segments.filter((s) => s !== at.segment)) {
        total += (await this.segmentPage(query, other, 1, opts)).total_subscribers;
      }
      result.totalCount = total;
    }
    return result;
  }

  async *pages(
    query: SubscriberQuery,
    opts?: CallOptions & { startAfter?: string | null },
  ): AsyncIterable<Page<Subscriber>> {
    let after = opts?.startAfter ?? null;
    for (;;) {
      const page = await this.list(query, { after }, opts);
      yield page;
      if (!page.pagination.has_next_page || !page.pagination.end_cursor) return;
      after = page.pagination.end_cursor;
    }
  }

  async get(id: number, opts?: CallOptions): Promise<Subscriber> {
    const a = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/subscribers/:id', path: `/v3/subscribers/${id}` },
      opts,
    );
    return a.data.subscriber as Subscriber;
  }

  async find(id: number, opts?: CallOptions): Promise<Subscriber | null> {
    const a = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/subscribers/:id', path: `/v3/subscribers/${id}` },
      opts,
      true,
    );
    return a.status === 404 ? null : (a.data.subscriber as Subscriber);
  }

  /** GET /v3/subscribers?email_address= among the active, then among the unsubscribed: 1 call, or 2 when not active. */
  async findByEmail(email: string, opts?: CallOptions): Promise<Subscriber | null> {
    const wanted = email.trim().toLowerCase();
    for (const segment of ['a', 'c'] as const) {
      const page = await this.segmentPage({ email_address: wanted }, segment, 1, opts);
      const found = page.subscribers.find((s) => s.email_address.toLowerCase() === wanted);
      if (found) return found;
    }
    return null;
  }

  /**
   * v3 has no create: the email is subscribed to the provisioning tag (with its first name and fields), then
   * read back for the echo check (the subscribe answer holds only the id), then unsubscribed when the user is
   * created inactive. 2 calls (+1 the first time, to find the tag; +1 for `inactive`). The caller checked the
   * email first: a subscribe on an unsubscribed email would re-subscribe it.
   */
  async upsert(input: SubscriberInput, opts?: CallOptions): Promise<{ subscriber: Subscriber; created: boolean }> {
    const tag = await this.provisioning(opts);
    const endpoint = 'POST /v3/tags/:tag_id/subscribe';
    const a = await this.core.call(
      {
        method: 'POST',
        endpoint,
        path: `/v3/tags/${tag.id}/subscribe`,
        body: withoutUndefined({ email: input.email_address, first_name: input.first_name, fields: input.fields }),
      },
      opts,
    );
    const id = Number(a.data?.subscription?.subscriber?.id);
    if (!Number.isSafeInteger(id))
      throw new KitRequestError(`Kit answered ${endpoint} without a subscriber id`, { endpoint });
    let subscriber = await this.get(id, opts);
    verifyEcho(input, subscriber, endpoint, { knownFieldKeys: this.core.fieldKeys });
    if (input.state && input.state !== 'active') subscriber = await this.unsubscribe(id, opts, subscriber);
    return { subscriber, created: true };
  }

  /**
   * PUT /v3/subscribers/{id}. A 200 carries the echo to check. A 202 (11–140 fields: "applied later") is read
   * back once before answering: the SCIM answer must describe what Kit holds. Not applied yet is
   * KitWritePendingError (a retryable 503): a 2xx would promise values nobody has seen stick.
   */
  async update(id: number, input: SubscriberUpdate, opts?: CallOptions): Promise<Subscriber> {
    const endpoint = 'PUT /v3/subscribers/:id';
    const body = withoutUndefined({
      email_address: input.email_address,
      first_name: input.first_name,
      fields: input.fields,
    });
    const a = await this.core.call({ method: 'PUT', endpoint, path: `/v3/subscribers/${id}`, body }, opts);
    if (a.status !== 202) {
      const subscriber = a.data.subscriber as Subscriber;
      verifyEcho(input, subscriber, endpoint, { knownFieldKeys: this.core.fieldKeys });
      return subscriber;
    }
    const reread = await this.get(id, opts);
    const missing = unstoredKeys(input, reread, { knownFieldKeys: this.core.fieldKeys });
    if (missing.length > 0) {
      throw new KitWritePendingError(
        `Kit accepted the update of subscriber ${id} (202, applied later) but has not applied ${missing.length} value(s) yet`,
        { status: 202, endpoint, retryAfterMs: 5_000 },
      );
    }
    return reread;
  }

  /** PUT /v3/unsubscribe by email: the email comes from `current`, or one read. */
  async unsubscribe(id: number, opts?: CallOptions, current?: Subscriber): Promise<Subscriber> {
    const known = current?.id === id ? current : await this.get(id, opts);
    const a = await this.core.call(
      { method: 'PUT', endpoint: 'PUT /v3/unsubscribe', path: '/v3/unsubscribe', body: { email: known.email_address } },
      opts,
    );
    const echoed = a.data?.subscriber as Subscriber | undefined;
    return echoed?.state && echoed.state !== 'active' ? echoed : { ...known, state: 'inactive' };
  }

  async tags(id: number, opts?: CallOptions): Promise<Tag[]> {
    const a = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/subscribers/:id/tags', path: `/v3/subscribers/${id}/tags` },
      opts,
    );
    return ((a.data?.tags ?? []) as Tag[]).map((t) => ({ id: t.id, name: t.name, created_at: t.created_at ?? '' }));
  }

  private provisioning(opts?: CallOptions): Promise<Tag> {
    const known = this.tagsApi.seen(this.provisioningTag);
    if (known) return Promise.resolve(known);
    this.usersTag ??= this.tagsApi.createOrFind(this.provisioningTag, opts).then((r) => r.tag);
    this.usersTag.catch(() => {
      this.usersTag = undefined;
    });
    return this.usersTag;
  }

  private async segmentPage(
    query: SubscriberQuery,
    segment: Segment,
    page: number,
    opts?: CallOptions,
  ): Promise<{ subscribers: Subscriber[]; total_subscribers: number; total_pages: number }> {
    const a = await this.core.call(
      {
        method: 'GET',
        endpoint: 'GET /v3/subscribers',
        path: '/v3/subscribers',
        query: {
          page,
          sort_field: segment === 'c' ? 'cancelled_at' : undefined,
          email_address: query.email_address,
          from: day(query.created_after),
          to: day(query.created_before),
          updated_from: day(query.updated_after),
          updated_to: day(query.updated_before),
          sort_order: query.sort_order === 'desc' ? 'desc' : undefined,
        },
      },
      opts,
    );
    const d = a.data ?? {};
    return {
      subscribers: Array.isArray(d.subscribers) ? d.subscribers : [],
      total_subscribers: Number(d.total_subscribers) || 0,
      total_pages: Number(d.total_pages) || 1,
    };
  }
}

export class V3Tags {
  /** Tags by name as last seen in Kit's answers (the provisioning tag is found here without a call). */
  private readonly byName = new Map<string, Tag>();

  constructor(private readonly core: V3Core) {}

  seen(name: string): Tag | undefined {
    return this.byName.get(name.toLowerCase());
  }

  private note(tag: Tag): Tag {
    this.byName.set(tag.name.toLowerCase(), tag);
    return tag;
  }

  /** GET /v3/tags: every tag in one call (v3 does not paginate tags). */
  async list(opts?: CallOptions): Promise<Tag[]> {
    const a = await this.core.call({ method: 'GET', endpoint: 'GET /v3/tags', path: '/v3/tags' }, opts);
    const tags = (a.data?.tags ?? []) as Tag[];
    this.byName.clear();
    tags.forEach((t) => this.note(t));
    return tags;
  }

  async createIfFree(name: string, opts?: CallOptions): Promise<Tag | null> {
    try {
      return (
        await this.core.createOrFind(this.createRequest(name), opts, readTag, () => this.lookup(name, opts), 'own')
      ).item;
    } catch (err) {
      if (err instanceof KitValidationError && err.isUniquenessClash) return null;
      throw err;
    }
  }

  async createOrFind(name: string, opts?: CallOptions): Promise<{ tag: Tag; created: boolean }> {
    const { item, created } = await this.core.createOrFind(
      this.createRequest(name),
      opts,
      readTag,
      () => this.lookup(name, opts),
      'find',
    );
    return { tag: this.note(item), created };
  }

  /** v3 cannot rename a tag; the SCIM layer consults `capabilities.tagRename` and never asks. */
  async renameIfFree(_id: number, _name: string): Promise<Tag | null> {
    throw new KitRequestError('Kit v3 cannot rename tags', { endpoint: 'PUT /v3/tags/:id' });
  }

  /**
   * v3 tags by subscribing an email, which would re-subscribe an unsubscribed subscriber: read it first (1 call)
   * and refuse a non-active one (unless it already carries the tag), then subscribe its email (1 call).
   */
  async tagSubscriber(tagId: number, subscriberId: number, opts?: CallOptions): Promise<void> {
    await this.tagOne(tagId, subscriberId, opts);
  }

  /** tagSubscriber, answering the subscriber tagged (for the bulk answer). */
  async tagOne(tagId: number, subscriberId: number, opts?: CallOptions): Promise<TaggedSubscriber> {
    const get = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/subscribers/:id', path: `/v3/subscribers/${subscriberId}` },
      opts,
    );
    const sub = get.data.subscriber as Subscriber;
    if (sub.state !== 'active') {
      const tags = await this.core.call(
        { method: 'GET', endpoint: 'GET /v3/subscribers/:id/tags', path: `/v3/subscribers/${subscriberId}/tags` },
        opts,
      );
      if (((tags.data?.tags ?? []) as Tag[]).some((t) => t.id === tagId)) return { ...sub, tagged_at: '' };
      throw new KitRequestError(
        `Kit v3 tags by subscribing the email, which would re-subscribe ${sub.state} subscriber ${sub.id}: not tagged`,
        { endpoint: 'POST /v3/tags/:tag_id/subscribe', errors: ['the subscriber is not active'] },
      );
    }
    const a = await this.core.call(
      {
        method: 'POST',
        endpoint: 'POST /v3/tags/:tag_id/subscribe',
        path: `/v3/tags/${tagId}/subscribe`,
        body: { email: sub.email_address },
      },
      opts,
    );
    return { ...sub, tagged_at: String(a.data?.subscription?.created_at ?? '') };
  }

  /** DELETE /v3/subscribers/{id}/tags/{tag_id}; false when Kit says the subscriber did not carry it. */
  async untag(tagId: number, subscriberId: number, opts?: CallOptions): Promise<boolean> {
    const a = await this.core.call(
      {
        method: 'DELETE',
        endpoint: 'DELETE /v3/subscribers/:id/tags/:tag_id',
        path: `/v3/subscribers/${subscriberId}/tags/${tagId}`,
      },
      opts,
      true,
    );
    return a.status !== 404 || a.ambiguousBefore;
  }

  /** One page (50) of GET /v3/tags/{id}/subscriptions; `perPage` is ignored, the total is always there. */
  async subscribers(
    tagId: number,
    query: { status?: SubscriberState | 'all' } = {},
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<TaggedSubscriber>> {
    const at = readCursor(page.after, 'a');
    const a = await this.core.call(
      {
        method: 'GET',
        endpoint: 'GET /v3/tags/:tag_id/subscriptions',
        path: `/v3/tags/${tagId}/subscriptions`,
        query: { page: at.page, subscriber_state: query.status === 'active' ? 'active' : undefined },
      },
      opts,
    );
    const d = a.data ?? {};
    const rows = (Array.isArray(d.subscriptions) ? d.subscriptions : []) as TagSubscription[];
    const next = nextCursor(at, Number(d.total_pages) || 1, ['a']);
    return {
      items: rows.map((r) => ({ ...r.subscriber, tagged_at: r.created_at ?? '' })),
      pagination: {
        has_previous_page: at.page > 1,
        has_next_page: next !== null,
        start_cursor: `a:${at.page}`,
        end_cursor: next,
        per_page: rows.length,
      },
      totalCount: Number(d.total_subscriptions) || 0,
    };
  }

  async *subscriberPages(
    tagId: number,
    query: { status?: SubscriberState | 'all' } = {},
    opts?: CallOptions,
  ): AsyncIterable<Page<TaggedSubscriber>> {
    let after: string | null = null;
    for (;;) {
      const page = await this.subscribers(tagId, query, { after }, opts);
      yield page;
      if (!page.pagination.has_next_page || !page.pagination.end_cursor) return;
      after = page.pagination.end_cursor;
    }
  }

  private createRequest(name: string): KitRequest {
    return { method: 'POST', endpoint: 'POST /v3/tags', path: '/v3/tags', body: { tag: { name } } };
  }

  private async lookup(name: string, opts?: CallOptions): Promise<Tag | undefined> {
    return findTag(await this.list(opts), name);
  }
}

/** v3 has no bulk endpoints: each tagging is a read and a subscribe (2 calls); failures are per item. */
export class V3Bulk {
  constructor(private readonly tags: V3Tags) {}

  async tagSubscribers(taggings: Tagging[], opts?: CallOptions): Promise<BulkResult<TaggedSubscriber, Tagging>> {
    const result: BulkResult<TaggedSubscriber, Tagging> = { succeeded: [], failures: [] };
    for (const item of taggings) {
      try {
        result.succeeded.push(await this.tags.tagOne(item.tag_id, item.subscriber_id, opts));
      } catch (e) {
        // As v4's bulk answer does: a subscriber Kit does not know, or cannot tag, fails alone.
        if (e instanceof KitNotFoundError || e instanceof KitRequestError || e instanceof KitValidationError) {
          result.failures.push({
            item,
            errors: (e as KitError).errors.length > 0 ? (e as KitError).errors : [e.message],
          });
          continue;
        }
        throw e;
      }
    }
    return result;
  }
}

export class V3CustomFields {
  constructor(private readonly core: V3Core) {}

  async list(opts?: CallOptions): Promise<CustomField[]> {
    const a = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/custom_fields', path: '/v3/custom_fields' },
      opts,
    );
    const fields = (Array.isArray(a.data?.custom_fields) ? a.data.custom_fields : []) as CustomField[];
    this.core.fieldKeys = new Set(fields.map((f) => f.key));
    return fields;
  }

  /** label → key, creating the missing ones by label (POST /v3/custom_fields), one call each. */
  async ensure(labels: readonly string[], opts?: CallOptions): Promise<Map<string, string>> {
    const existing = await this.list(opts);
    const keys = new Map<string, string>();
    for (const label of labels) {
      if (keys.has(label)) continue;
      let field = findField(existing, label);
      if (!field) {
        const wanted = label.trim();
        field = (
          await this.core.createOrFind(
            { method: 'POST', endpoint: 'POST /v3/custom_fields', path: '/v3/custom_fields', body: { label: wanted } },
            opts,
            (d: CustomField & { custom_field?: CustomField }) => d.custom_field ?? d,
            async () => findField(await this.list(opts), wanted),
            'find',
          )
        ).item;
        existing.push(field);
        this.core.fieldKeys?.add(field.key);
      }
      keys.set(label, field.key);
    }
    return keys;
  }
}

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
    const a = await this.core.call({ method: 'GET', endpoint: 'GET /v3/account', path: '/v3/account' }, opts);
    const d = a.data ?? {};
    return {
      user: { email: String(d.primary_email_address ?? '') },
      account: {
        id: 0,
        name: String(d.name ?? ''),
        plan_type: d.plan_type,
        primary_email_address: d.primary_email_address,
      },
    };
  }
}

function readTag(d: Tag & { tag?: Tag }): Tag {
  return d.tag ?? d;
}

/** Kit v3 date filters take a day (yyyy-mm-dd). */
function day(iso?: string): string | undefined {
  return iso ? iso.slice(0, 10) : undefined;
}
