import { subscriberAnswer, subscriberPage, subscriberTagPage, unsubscribeAnswer } from '../answers';
import { type Answer, isRefusal, type KitCaller, withoutUndefined } from '../caller';
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
    return this.caller.data(
      {
        method: 'GET',
        endpoint: 'GET /v4/subscribers',
        path: '/v4/subscribers',
        query: { ...query, ...pageQuery(page) },
        repeat: 'idempotent',
        answer: subscriberPage,
      },
      opts,
    );
  }

  pages(query: SubscriberQuery, opts?: CallOptions & { startAfter?: string | null }): AsyncIterable<Page<Subscriber>> {
    return cursorPages((after) => this.list(query, { after }, opts), opts?.startAfter ?? null);
  }

  /** GET /v4/subscribers/{id}; a missing subscriber is KitNotFoundError. */
  async get(id: number, opts?: CallOptions): Promise<Subscriber> {
    return (await this.caller.data(this.getRequest(id), opts)).subscriber;
  }

  /** Like get, but Kit's 404 is an answer: null when no subscriber has that id. */
  async find(id: number, opts?: CallOptions): Promise<Subscriber | null> {
    const a = await this.caller.callAccepting(this.getRequest(id), opts, (s) => s === 404);
    return isRefusal(a) ? null : a.data.subscriber;
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
    // Kit's upsert is keyed by email: a repeat finds what the first attempt created and sets the same values.
    const a = await this.caller.call(
      { method: 'POST', endpoint, path: '/v4/subscribers', body, repeat: 'idempotent', answer: subscriberAnswer },
      opts,
    );
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
    const a = await this.caller.call(
      { method: 'PUT', endpoint, path: `/v4/subscribers/${id}`, body, repeat: 'idempotent', answer: subscriberAnswer },
      opts,
    );
    return this.checkedEcho(input, a, endpoint);
  }

  /**
   * POST /v4/subscribers/{id}/unsubscribe. One-way: Kit has no API to reactivate. Kit documents 204 No Content:
   * the subscriber is then read back (a second call), unless the caller passes `current`, the subscriber as it
   * just wrote it (Kit's unsubscribe changes nothing but the state).
   */
  async unsubscribe(id: number, opts?: CallOptions, current?: Subscriber): Promise<Subscriber> {
    const echoed = await this.caller.data(
      {
        method: 'POST',
        endpoint: 'POST /v4/subscribers/:id/unsubscribe',
        path: `/v4/subscribers/${id}/unsubscribe`,
        body: {},
        // An inactive subscriber stays inactive.
        repeat: 'idempotent',
        answer: unsubscribeAnswer,
      },
      opts,
    );
    if (echoed.subscriber) return echoed.subscriber;
    if (current?.id === id) return { ...current, state: 'inactive' };
    return this.get(id, opts);
  }

  /** Every tag of one subscriber (all pages). */
  async tags(id: number, opts?: CallOptions): Promise<Tag[]> {
    return collectAll(
      cursorPages((after) =>
        this.caller.data(
          {
            method: 'GET',
            endpoint: 'GET /v4/subscribers/:id/tags',
            path: `/v4/subscribers/${id}/tags`,
            query: pageQuery({ after }),
            repeat: 'idempotent',
            answer: subscriberTagPage,
          },
          opts,
        ),
      ),
    );
  }

  private getRequest(id: number) {
    return {
      method: 'GET',
      endpoint: 'GET /v4/subscribers/:id',
      path: `/v4/subscribers/${id}`,
      repeat: 'idempotent',
      answer: subscriberAnswer,
    } as const;
  }

  /** Kit drops unknown fields silently: what it echoes must hold what was sent. */
  private checkedEcho(
    sent: SubscriberInput | SubscriberUpdate,
    a: Answer<{ subscriber: Subscriber }>,
    endpoint: string,
  ): Subscriber {
    const subscriber = a.data.subscriber;
    verifyEcho(sent, subscriber, endpoint, {
      fieldValuesPending: a.status === 202,
      knownFieldKeys: this.fieldKeys.keys,
    });
    return subscriber;
  }
}
