import { KitError, KitNotFoundError, KitRequestError, KitValidationError } from '../errors';
import { unreadAnswer } from '../answers';
import { isRefusal, type UniqueNameRequest } from '../caller';
import { findTag } from '../resources/tags';
import type {
  BulkResult,
  CallOptions,
  Page,
  PageRequest,
  SubscriberState,
  Tag,
  TaggedSubscriber,
  Tagging,
} from '../types';
import { v3SubscriptionAnswer, v3TagCreatedAnswer, v3TagSubscriptionsAnswer, v3TagsAnswer } from './answers';
import type { V3Core } from './core';
import { v3SubscriberRequest, v3SubscriberTagsRequest } from './subscriberReads';
import { nextCursor, readCursor } from './pageCursor';

// Kit v3's tag endpoints behind the port's Tags and Bulk (docs/kit/v3.md "Tags"): no rename, no bulk, and
// tagging means subscribing an email, so a subscriber that is not active is never tagged.

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
    const { tags } = await this.core.data(
      { method: 'GET', endpoint: 'GET /v3/tags', path: '/v3/tags', repeat: 'idempotent', answer: v3TagsAnswer },
      opts,
    );
    this.byName.clear();
    tags.forEach((t) => this.note(t));
    return tags;
  }

  async createIfFree(name: string, opts?: CallOptions): Promise<Tag | null> {
    try {
      return (await this.core.createOrFind(this.createRequest(name), opts, () => this.lookup(name, opts), 'own')).item;
    } catch (err) {
      if (err instanceof KitValidationError && err.isUniquenessClash) return null;
      throw err;
    }
  }

  async createOrFind(name: string, opts?: CallOptions): Promise<{ tag: Tag; created: boolean }> {
    const { item, created } = await this.core.createOrFind(
      this.createRequest(name),
      opts,
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
    const { subscriber: sub } = await this.core.data(v3SubscriberRequest(subscriberId), opts);
    if (sub.state !== 'active') {
      const { tags } = await this.core.data(v3SubscriberTagsRequest(subscriberId), opts);
      if (tags.some((t) => t.id === tagId)) return { ...sub, tagged_at: '' };
      throw new KitRequestError(
        `Kit v3 tags by subscribing the email, which would re-subscribe ${sub.state} subscriber ${sub.id}: not tagged`,
        { endpoint: 'POST /v3/tags/:tag_id/subscribe', errors: ['the subscriber is not active'] },
      );
    }
    const { subscription } = await this.core.data(
      {
        method: 'POST',
        endpoint: 'POST /v3/tags/:tag_id/subscribe',
        path: `/v3/tags/${tagId}/subscribe`,
        body: { email: sub.email_address },
        // Tagging an active subscriber again changes nothing.
        repeat: 'idempotent',
        answer: v3SubscriptionAnswer,
      },
      opts,
    );
    return { ...sub, tagged_at: subscription.created_at ?? '' };
  }

  /** DELETE /v3/subscribers/{id}/tags/{tag_id}; false when Kit says the subscriber did not carry it. */
  async untag(tagId: number, subscriberId: number, opts?: CallOptions): Promise<boolean> {
    const a = await this.core.callAccepting404(
      {
        method: 'DELETE',
        endpoint: 'DELETE /v3/subscribers/:id/tags/:tag_id',
        path: `/v3/subscribers/${subscriberId}/tags/${tagId}`,
        // A repeat finds the tag gone (404): the first attempt removed it.
        repeat: 'idempotent',
        answer: unreadAnswer,
      },
      opts,
    );
    return !isRefusal(a) || a.ambiguousBefore;
  }

  /** One page (50) of GET /v3/tags/{id}/subscriptions; `perPage` is ignored, the total is always there. */
  async subscribers(
    tagId: number,
    query: { status?: SubscriberState | 'all' } = {},
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<TaggedSubscriber>> {
    const at = readCursor(page.after, 'a');
    const d = await this.core.data(
      {
        method: 'GET',
        endpoint: 'GET /v3/tags/:tag_id/subscriptions',
        path: `/v3/tags/${tagId}/subscriptions`,
        query: { page: at.page, subscriber_state: query.status === 'active' ? 'active' : undefined },
        repeat: 'idempotent',
        answer: v3TagSubscriptionsAnswer,
      },
      opts,
    );
    const rows = d.subscriptions;
    const next = nextCursor(at, Math.max(1, d.total_pages), ['a']);
    return {
      items: rows.map((r) => ({ ...r.subscriber, tagged_at: r.created_at ?? '' })),
      pagination: {
        has_previous_page: at.page > 1,
        has_next_page: next !== null,
        start_cursor: `a:${at.page}`,
        end_cursor: next,
        per_page: rows.length,
      },
      totalCount: d.total_subscriptions,
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

  /** Not idempotent: a repeat after Kit created the tag is refused 422 "already been taken" (createOrFind). */
  private createRequest(name: string): UniqueNameRequest<Tag> {
    return {
      method: 'POST',
      endpoint: 'POST /v3/tags',
      path: '/v3/tags',
      body: { tag: { name } },
      repeat: 'uniqueName',
      answer: v3TagCreatedAnswer,
    };
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
