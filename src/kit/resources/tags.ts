import type { KitCaller } from '../caller';
import { KitValidationError } from '../errors';
import { collectAll, cursorPages, pageQuery } from '../pagination';
import type { CallOptions, Page, PageRequest, SubscriberState, Tag, TaggedSubscriber } from '../types';

// Kit's tag endpoints (docs/kit/api.md "Tags"). Tag names are unique in an account (case-insensitively): a
// clash is Kit's 422 "Name has already been taken", which the methods below answer as a value where the caller
// has a use for it, so that no caller outside src/kit needs to know Kit's error family.

type TagStatusQuery = { status?: SubscriberState | 'all' };

/** Kit trims names and keeps them unique regardless of case: an exact match first, then one ignoring case. */
export function findTag(tags: readonly Tag[], name: string): Tag | undefined {
  const wanted = name.trim();
  return tags.find((t) => t.name === wanted) ?? tags.find((t) => t.name.toLowerCase() === wanted.toLowerCase());
}

export class Tags {
  constructor(private readonly caller: KitCaller) {}

  /** Every tag in the account (all pages). */
  list(opts?: CallOptions): Promise<Tag[]> {
    return collectAll(
      cursorPages((after) =>
        this.caller.page<Tag>(
          { method: 'GET', endpoint: 'GET /v4/tags', path: '/v4/tags', query: pageQuery({ after }) },
          'tags',
          opts,
        ),
      ),
    );
  }

  /**
   * POST /v4/tags. A name already taken is KitValidationError (isUniquenessClash), unless our own lost first
   * attempt took it: then the tag it created is answered.
   */
  async create(name: string, opts?: CallOptions): Promise<Tag> {
    return (
      await this.caller.createOrFind(this.createRequest(name), opts, readTag, () => this.lookup(name, opts), 'own')
    ).item;
  }

  /** POST /v4/tags, answering null when the name is taken (a clash the caller reports as its own conflict). */
  async createIfFree(name: string, opts?: CallOptions): Promise<Tag | null> {
    try {
      return await this.create(name, opts);
    } catch (err) {
      if (isNameTaken(err)) return null;
      throw err;
    }
  }

  /** The tag with this name, created when missing (another replica may create it at the same moment). */
  async createOrFind(name: string, opts?: CallOptions): Promise<{ tag: Tag; created: boolean }> {
    const { item, created } = await this.caller.createOrFind(
      this.createRequest(name),
      opts,
      readTag,
      () => this.lookup(name, opts),
      'find',
    );
    return { tag: item, created };
  }

  /** PUT /v4/tags/{id}; null when the name is taken (Kit's 422 "already been taken"). */
  async renameIfFree(id: number, name: string, opts?: CallOptions): Promise<Tag | null> {
    try {
      const a = await this.caller.call(
        { method: 'PUT', endpoint: 'PUT /v4/tags/:id', path: `/v4/tags/${id}`, body: { name } },
        opts,
      );
      return readTag(a.data);
    } catch (err) {
      if (isNameTaken(err)) return null;
      throw err;
    }
  }

  async tagSubscriber(tagId: number, subscriberId: number, opts?: CallOptions): Promise<void> {
    await this.caller.call(
      {
        method: 'POST',
        endpoint: 'POST /v4/tags/:tag_id/subscribers/:id',
        path: `/v4/tags/${tagId}/subscribers/${subscriberId}`,
        body: {},
      },
      opts,
    );
  }

  /**
   * The idempotent untag the product uses: true when the subscriber carried the tag and no longer does, false
   * when Kit says it did not carry it (a concurrent change, or a repeated DELETE after an outage).
   */
  async untag(tagId: number, subscriberId: number, opts?: CallOptions): Promise<boolean> {
    const a = await this.untagCall(tagId, subscriberId, opts, (s) => s === 404);
    return a.status !== 404 || a.ambiguousBefore;
  }

  /** One page of GET /v4/tags/{id}/subscribers. */
  subscribers(
    tagId: number,
    query: TagStatusQuery = {},
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<TaggedSubscriber>> {
    return this.caller.page<TaggedSubscriber>(
      {
        method: 'GET',
        endpoint: 'GET /v4/tags/:tag_id/subscribers',
        path: `/v4/tags/${tagId}/subscribers`,
        query: { status: query.status, ...pageQuery(page) },
      },
      'subscribers',
      opts,
    );
  }

  subscriberPages(
    tagId: number,
    query: TagStatusQuery = {},
    opts?: CallOptions,
  ): AsyncIterable<Page<TaggedSubscriber>> {
    return cursorPages((after) => this.subscribers(tagId, query, { after }, opts));
  }

  private createRequest(name: string) {
    return { method: 'POST' as const, endpoint: 'POST /v4/tags', path: '/v4/tags', body: { name } };
  }

  private async lookup(name: string, opts?: CallOptions): Promise<Tag | undefined> {
    return findTag(await this.list(opts), name);
  }

  private untagCall(
    tagId: number,
    subscriberId: number,
    opts: CallOptions | undefined,
    acceptStatus: (status: number, ambiguousBefore: boolean) => boolean,
  ) {
    return this.caller.call(
      {
        method: 'DELETE',
        endpoint: 'DELETE /v4/tags/:tag_id/subscribers/:id',
        path: `/v4/tags/${tagId}/subscribers/${subscriberId}`,
      },
      opts,
      { acceptStatus },
    );
  }
}

const readTag = (data: { tag: Tag }): Tag => data.tag;

function isNameTaken(err: unknown): boolean {
  return err instanceof KitValidationError && err.isUniquenessClash;
}
