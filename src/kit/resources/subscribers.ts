import { type Answer, type KitCaller, withoutUndefined } from '../caller';
import { collectAll, cursorPages, pageQuery } from '../pagination';
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
import { verifyEcho } from '../fieldEcho';
import type { KnownFieldKeys } from './customFields';

// Kit's subscriber endpoints (docs/kit/api.md "Subscribers").

export class Subscribers {
  constructor(
    private readonly caller: KitCaller,
    private readonly fieldKeys: KnownFieldKeys,
  ) {}

  /** One page of GET /v4/subscribers (per_page defaults to 1000). */
  list(query: SubscriberQuery, page: PageRequest = {}, opts?: CallOptions): Promise<Page<Subscriber>> {
    return this.caller.page<Subscriber>(
      {
        method: 'GET',
        endpoint: 'GET /v4/subscribers',
        path: '/v4/subscribers',
        query: { ...query, ...pageQuery(page) },
      },
      'subscribers',
      opts,
    );
  }

  pages(query: SubscriberQuery, opts?: CallOptions & { startAfter?: string | null }): AsyncIterable<Page<Subscriber>> {
    return cursorPages((after) => this.list(query, { after }, opts), opts?.startAfter ?? null);
  }

  /** GET /v4/subscribers/{id}; a missing subscriber is KitNotFoundError. */
  async get(id: number, opts?: CallOptions): Promise<Subscriber> {
    const a = await this.caller.call(
      { method: 'GET', endpoint: 'GET /v4/subscribers/:id', path: `/v4/subscribers/${id}` },
      opts,
    );
    return a.data.subscriber as Subscriber;
  }

  /** Like get, but Kit's 404 is an answer: null when no subscriber has that id. */
  async find(id: number, opts?: CallOptions): Promise<Subscriber | null> {
    const a = await this.caller.call(
      { method: 'GET', endpoint: 'GET /v4/subscribers/:id', path: `/v4/subscribers/${id}` },
      opts,
      { acceptStatus: (s) => s === 404 },
    );
    return a.status === 404 ? null : (a.data.subscriber as Subscriber);
  }

  /** Exact match over every state (status=all), regardless of case; null when no subscriber has that email. */
  async findByEmail(email: string, opts?: CallOptions): Promise<Subscriber | null> {
    const page = await this.list({ email_address: email, status: 'all' }, { perPage: 10 }, opts);
    const wanted = email.trim().toLowerCase();
    return page.items.find((s) => s.email_address.toLowerCase() === wanted) ?? null;
  }

  /**
   * POST /v4/subscribers, Kit's upsert. `created` is true on 201 (and 202: Kit's "new subscriber, fields applied
   * asynchronously"). A 200 means the email existed, except after an ambiguous earlier attempt: then that
   * attempt most likely created the subscriber and the repeat found it, so it is reported as created.
   */
  async upsert(input: SubscriberInput, opts?: CallOptions): Promise<{ subscriber: Subscriber; created: boolean }> {
    const body = withoutUndefined({
      email_address: input.email_address,
      first_name: input.first_name,
      state: input.state,
      fields: input.fields,
    });
    const endpoint = 'POST /v4/subscribers';
    const a = await this.caller.call({ method: 'POST', endpoint, path: '/v4/subscribers', body }, opts);
    const subscriber = this.checkedEcho(input, a, endpoint);
    const created = a.status === 201 || a.status === 202 || (a.status === 200 && a.ambiguousBefore);
    return { subscriber, created };
  }

  /** PUT /v4/subscribers/{id}; verifies the echo like upsert. 422 "already been taken" on a used email. */
  async update(id: number, input: SubscriberUpdate, opts?: CallOptions): Promise<Subscriber> {
    const body = withoutUndefined({
      email_address: input.email_address,
      first_name: input.first_name,
      fields: input.fields,
    });
    const endpoint = 'PUT /v4/subscribers/:id';
    const a = await this.caller.call({ method: 'PUT', endpoint, path: `/v4/subscribers/${id}`, body }, opts);
    return this.checkedEcho(input, a, endpoint);
  }

  /**
   * POST /v4/subscribers/{id}/unsubscribe. One-way: Kit has no API to reactivate. Kit documents 204 No Content:
   * the subscriber is then read back (a second call), unless the caller passes `current`, the subscriber as it
   * just wrote it (Kit's unsubscribe changes nothing but the state).
   */
  async unsubscribe(id: number, opts?: CallOptions, current?: Subscriber): Promise<Subscriber> {
    const a = await this.caller.call(
      {
        method: 'POST',
        endpoint: 'POST /v4/subscribers/:id/unsubscribe',
        path: `/v4/subscribers/${id}/unsubscribe`,
        body: {},
      },
      opts,
    );
    if (a.data?.subscriber?.state) return a.data.subscriber as Subscriber;
    if (current?.id === id) return { ...current, state: 'inactive' };
    return this.get(id, opts);
  }

  /** Every tag of one subscriber (all pages). */
  async tags(id: number, opts?: CallOptions): Promise<Tag[]> {
    const items = await collectAll(
      cursorPages((after) =>
        this.caller.page<Tag & { tagged_at?: string; added_at?: string }>(
          {
            method: 'GET',
            endpoint: 'GET /v4/subscribers/:id/tags',
            path: `/v4/subscribers/${id}/tags`,
            query: pageQuery({ after }),
          },
          'tags',
          opts,
        ),
      ),
    );
    // This list carries tagged_at instead of created_at; Tag needs a date, the tagging one is what Kit has.
    return items.map((t) => ({ id: t.id, name: t.name, created_at: t.created_at ?? t.tagged_at ?? t.added_at ?? '' }));
  }

  /** Kit drops unknown fields silently: what it echoes must hold what was sent. */
  private checkedEcho(sent: SubscriberInput | SubscriberUpdate, a: Answer, endpoint: string): Subscriber {
    const subscriber = a.data.subscriber as Subscriber;
    verifyEcho(sent, subscriber, endpoint, {
      fieldValuesPending: a.status === 202,
      knownFieldKeys: this.fieldKeys.keys,
    });
    return subscriber;
  }
}
