import { tagAnswer, tagPage, taggedSubscriberPage, unreadAnswer } from '../answers';
import { isRefusal, type KitCaller, type UniqueNameRequest } from '../caller';
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
        this.caller.data(
          {
            method: 'GET',
            endpoint: 'GET /v4/tags',
            path: '/v4/tags',
            query: pageQuery({ after }),
            repeat: 'idempotent',
            answer: tagPage,
          },
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
    return (await this.caller.createOrFind(this.createRequest(name), opts, () => this.lookup(name, opts), 'own')).item;
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
      () => this.lookup(name, opts),
      'find',
    );
    return { tag: item, created };
  }

  /** PUT /v4/tags/{id}; null when the name is taken (Kit's 422 "already been taken"). */
  async renameIfFree(id: number, name: string, opts?: CallOptions): Promise<Tag | null> {
    try {
      const answer = await this.caller.data(
        {
          method: 'PUT',
          endpoint: 'PUT /v4/tags/:id',
          path: `/v4/tags/${id}`,
          body: { name },
          // A rename to a given name: a repeat sets the same name.
          repeat: 'idempotent',
          answer: tagAnswer,
        },
        opts,
      );
      return answer.tag;
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
        // Kit answers 200 when the subscriber already carries the tag.
        repeat: 'idempotent',
        answer: unreadAnswer,
      },
      opts,
    );
  }

  /**
   * The idempotent untag the product uses: true when the subscriber carried the tag and no longer does, false
   * when Kit says it did not carry it (a concurrent change, or a repeated DELETE after an outage).
   */
  async untag(tagId: number, subscriberId: number, opts?: CallOptions): Promise<boolean> {
    const a = await this.caller.callAccepting(
      {
        method: 'DELETE',
        endpoint: 'DELETE /v4/tags/:tag_id/subscribers/:id',
        path: `/v4/tags/${tagId}/subscribers/${subscriberId}`,
        // A repeat finds the tag gone (404): the first attempt removed it.
        repeat: 'idempotent',
        answer: unreadAnswer,
      },
      opts,
      (s) => s === 404,
    );
    return !isRefusal(a) || a.ambiguousBefore;
  }

  /** One page of GET /v4/tags/{id}/subscribers. */
  subscribers(
    tagId: number,
    query: TagStatusQuery = {},
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<TaggedSubscriber>> {
    return this.caller.data(
      {
        method: 'GET',
        endpoint: 'GET /v4/tags/:tag_id/subscribers',
        path: `/v4/tags/${tagId}/subscribers`,
        query: { status: query.status, ...pageQuery(page) },
        repeat: 'idempotent',
        answer: taggedSubscriberPage,
      },
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

  /** Not idempotent: a repeat after Kit created the tag is refused 422 "already been taken" (createOrFind). */
  private createRequest(name: string): UniqueNameRequest<Tag> {
    return {
      method: 'POST',
      endpoint: 'POST /v4/tags',
      path: '/v4/tags',
      body: { name },
      repeat: 'uniqueName',
      answer: tagAnswer.transform((a) => a.tag),
    };
  }

  private async lookup(name: string, opts?: CallOptions): Promise<Tag | undefined> {
    return findTag(await this.list(opts), name);
  }
}

function isNameTaken(err: unknown): boolean {
  return err instanceof KitValidationError && err.isUniquenessClash;
}
