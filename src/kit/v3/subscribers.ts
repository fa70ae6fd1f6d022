import { subscriberAnswer, unsubscribeAnswer } from '../answers';
import { isRefusal, withoutUndefined } from '../caller';
import { KitWritePendingError } from '../errors';
import { unstoredKeys, verifyEcho } from '../fieldEcho';
import type {
  CallOptions,
  Page,
  PageRequest,
  Subscriber,
  SubscriberInput,
  SubscriberQuery,
  SubscriberUpdate,
  Tag,
} from '../types';
import { v3SubscriberListAnswer, v3SubscriptionAnswer } from './answers';
import { v3SubscriberRequest, v3SubscriberTagsRequest } from './subscriberReads';
import type { V3Core } from './core';
import { nextCursor, readCursor, type Segment } from './pageCursor';
import type { V3Tags } from './tags';

// Kit v3's subscriber endpoints behind the port's Subscribers (docs/kit/v3.md "Subscribers"): page numbers
// carried as cursors, creation by subscribing to the provisioning tag, 202 updates read back.

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
    return (await this.core.data(v3SubscriberRequest(id), opts)).subscriber;
  }

  async find(id: number, opts?: CallOptions): Promise<Subscriber | null> {
    const a = await this.core.callAccepting404(v3SubscriberRequest(id), opts);
    return isRefusal(a) ? null : a.data.subscriber;
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
    const { subscription } = await this.core.data(
      {
        method: 'POST',
        endpoint,
        path: `/v3/tags/${tag.id}/subscribe`,
        body: withoutUndefined({ email: input.email_address, first_name: input.first_name, fields: input.fields }),
        // Keyed by email: a repeat finds the subscriber and the tagging the first attempt made, sets the same values.
        repeat: 'idempotent',
        answer: v3SubscriptionAnswer,
      },
      opts,
    );
    const id = subscription.subscriber.id;
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
    const a = await this.core.call(
      {
        method: 'PUT',
        endpoint,
        path: `/v3/subscribers/${id}`,
        body,
        // Sets given values: a repeat sets the same ones.
        repeat: 'idempotent',
        answer: subscriberAnswer,
      },
      opts,
    );
    if (a.status !== 202) {
      const subscriber = a.data.subscriber;
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
    const { subscriber: echoed } = await this.core.data(
      {
        method: 'PUT',
        endpoint: 'PUT /v3/unsubscribe',
        path: '/v3/unsubscribe',
        body: { email: known.email_address },
        // An unsubscribed email stays unsubscribed.
        repeat: 'idempotent',
        answer: unsubscribeAnswer,
      },
      opts,
    );
    return echoed?.state && echoed.state !== 'active' ? echoed : { ...known, state: 'inactive' };
  }

  async tags(id: number, opts?: CallOptions): Promise<Tag[]> {
    return (await this.core.data(v3SubscriberTagsRequest(id), opts)).tags;
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
    const d = await this.core.data(
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
        repeat: 'idempotent',
        answer: v3SubscriberListAnswer,
      },
      opts,
    );
    // An empty list has no pages; it is walked as one empty page.
    return { ...d, total_pages: Math.max(1, d.total_pages) };
  }
}

/** Kit v3 date filters take a day (yyyy-mm-dd). */
function day(iso?: string): string | undefined {
  return iso ? iso.slice(0, 10) : undefined;
}
