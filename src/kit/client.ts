import type http from 'node:http';
import type https from 'node:https';
import type { KitCredentials } from '../config';
import type { KitApi } from './api';
import { type Authenticator, authenticatorFor, TOKEN_ENDPOINT } from './credentials';
import { ensureFields, findField, verifyEcho } from './customFields';
import { errorForNetwork, errorForStatus } from './errorMapping';
import { KitError, KitRateLimitedError, type KitValidationError } from './errors';
import type { KitLimiter, LimiterPriority } from './limiter';
import { collectAll, cursorPages, pageQuery, toPage } from './pagination';
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isAmbiguous,
  isRetryable,
  isTransient,
  parseRetryAfter,
  type RetryPolicy,
} from './retry';
import { FileTokenStore, type TokenStore } from './tokenStore';
import { webhookCalls } from './webhooks';
import { type KitRequest, KitTransport, type Outcome } from './transport';
import type {
  Account,
  BulkFailure,
  BulkResult,
  CallOptions,
  CustomField,
  KitCallRecord,
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

export interface KitClientOptions {
  /** e.g. https://api.convertkit.com (no /v4). */
  baseUrl: string;
  credentials: KitCredentials;
  /** Shared by every client using this credential; see createKitLimiter / limiterIdFor. */
  limiter: KitLimiter;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Once per HTTP exchange (every attempt, failed ones included). */
  onCall?: (record: KitCallRecord) => void;
  /** Where rotated OAuth tokens live; defaults to a FileTokenStore at credentials.tokenStorePath. */
  tokenStore?: TokenStore;
  /** Applied to calls that pass no maxWaitMs of their own. */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  httpAgent?: http.Agent;
  httpsAgent?: https.Agent;
}

/** Bulk endpoints are synchronous up to 100 items (kit-api-v4 "Bulk and async processing"). */
export const BULK_CHUNK = 100;

interface Answer {
  status: number;
  data: any;
  /** An earlier attempt failed in a way that Kit may nonetheless have applied. */
  ambiguousBefore: boolean;
}

interface CallHooks {
  /** A final failure with this status is the expected answer to a repeat of an applied request. */
  acceptAfterAmbiguous?: (status: number) => boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Kit v4 over axios: the only code that knows Kit's URLs. Every exchange goes through the credential's
 * limiter, is retried where retry.ts says it is safe, and fails with the KitError family.
 */
export class KitClient implements KitApi {
  readonly subscribers: KitApi['subscribers'];
  readonly tags: KitApi['tags'];
  readonly bulk: KitApi['bulk'];
  readonly customFields: KitApi['customFields'];
  readonly webhooks: KitApi['webhooks'] = webhookCalls((req, o, hooks) => this.call(req, o, hooks));

  private readonly transport: KitTransport;
  private readonly auth: Authenticator;
  private readonly limiter: KitLimiter;
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly defaultMaxWaitMs?: number;
  /** Field keys seen in the account, for checking 202 answers whose echo cannot show values yet. */
  private knownFieldKeys?: Set<string>;

  constructor(opts: KitClientOptions) {
    this.limiter = opts.limiter;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.defaultMaxWaitMs = opts.maxWaitMs;
    this.transport = new KitTransport({
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      httpAgent: opts.httpAgent,
      httpsAgent: opts.httpsAgent,
      onCall: opts.onCall,
      now: this.now,
    });
    const store =
      opts.tokenStore ??
      (opts.credentials.kind === 'oauth' && opts.credentials.tokenStorePath
        ? new FileTokenStore(opts.credentials.tokenStorePath)
        : undefined);
    this.auth = authenticatorFor(opts.credentials, (body) => this.exchangeToken(body), store);

    this.subscribers = {
      list: (query, page, o) => this.listSubscribers(query, page, o),
      pages: (query, o) => cursorPages((after) => this.listSubscribers(query, { after }, o), o?.startAfter ?? null),
      get: async (id, o) => {
        const a = await this.call(
          { method: 'GET', endpoint: 'GET /v4/subscribers/:id', path: `/v4/subscribers/${id}` },
          o,
        );
        return a.data.subscriber as Subscriber;
      },
      findByEmail: (email, o) => this.findByEmail(email, o),
      upsert: (input, o) => this.upsert(input, o),
      update: (id, input, o) => this.update(id, input, o),
      unsubscribe: (id, o, current) => this.unsubscribe(id, o, current),
      tags: async (id, o) => {
        const items = await collectAll(
          cursorPages((after) =>
            this.page<Tag & { tagged_at?: string; added_at?: string }>(
              {
                method: 'GET',
                endpoint: 'GET /v4/subscribers/:id/tags',
                path: `/v4/subscribers/${id}/tags`,
                query: pageQuery({ after }),
              },
              'tags',
              o,
            ),
          ),
        );
        // This list carries tagged_at instead of created_at; Tag needs a date, the tagging one is what Kit has.
        return items.map((t) => ({
          id: t.id,
          name: t.name,
          created_at: t.created_at ?? t.tagged_at ?? t.added_at ?? '',
        }));
      },
    };

    this.tags = {
      list: (o) => this.allTags(o),
      create: (name, o) => this.createTag(name, o),
      rename: async (id, name, o) => {
        const a = await this.call(
          { method: 'PUT', endpoint: 'PUT /v4/tags/:id', path: `/v4/tags/${id}`, body: { name } },
          o,
        );
        return a.data.tag as Tag;
      },
      tagSubscriber: async (tagId, subscriberId, o) => {
        await this.call(
          {
            method: 'POST',
            endpoint: 'POST /v4/tags/:tag_id/subscribers/:id',
            path: `/v4/tags/${tagId}/subscribers/${subscriberId}`,
            body: {},
          },
          o,
        );
      },
      untagSubscriber: async (tagId, subscriberId, o) => {
        // A 404 on a repeat after an ambiguous attempt means the first one removed the tag.
        await this.call(
          {
            method: 'DELETE',
            endpoint: 'DELETE /v4/tags/:tag_id/subscribers/:id',
            path: `/v4/tags/${tagId}/subscribers/${subscriberId}`,
          },
          o,
          { acceptAfterAmbiguous: (s) => s === 404 },
        );
      },
      subscribers: (tagId, query, page, o) => this.tagSubscribers(tagId, query, page, o),
      subscriberPages: (tagId, query, o) => cursorPages((after) => this.tagSubscribers(tagId, query, { after }, o)),
    };

    this.bulk = {
      tagSubscribers: (taggings, o) => this.bulkTag(taggings, o),
      upsertSubscribers: (subscribers, o) => this.bulkUpsert(subscribers, o),
    };

    this.customFields = {
      list: (o) => this.allCustomFields(o),
      create: (label, o) => this.createCustomField(label, o),
      ensure: (labels, o) =>
        ensureFields(
          labels,
          () => this.allCustomFields(o),
          (label) => this.createCustomField(label, o),
        ),
    };
  }

  async account(opts?: CallOptions): Promise<Account> {
    const a = await this.call({ method: 'GET', endpoint: 'GET /v4/account', path: '/v4/account' }, opts);
    return a.data as Account;
  }

  // ---- subscribers -------------------------------------------------------------------------------------------

  private listSubscribers(
    query: SubscriberQuery,
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<Subscriber>> {
    return this.page<Subscriber>(
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

  private async findByEmail(email: string, opts?: CallOptions): Promise<Subscriber | null> {
    const page = await this.listSubscribers({ email_address: email, status: 'all' }, { perPage: 10 }, opts);
    const wanted = email.trim().toLowerCase();
    return page.items.find((s) => s.email_address.toLowerCase() === wanted) ?? null;
  }

  /**
   * `created` is true on 201 (and 202: Kit's "new subscriber, fields applied asynchronously"). A 200 means the
   * email existed, except after an ambiguous earlier attempt: then that attempt most likely created the
   * subscriber and the repeat found it, so it is reported as created.
   */
  private async upsert(
    input: SubscriberInput,
    opts?: CallOptions,
  ): Promise<{ subscriber: Subscriber; created: boolean }> {
    const body = withoutUndefined({
      email_address: input.email_address,
      first_name: input.first_name,
      state: input.state,
      fields: input.fields,
    });
    const endpoint = 'POST /v4/subscribers';
    const a = await this.call({ method: 'POST', endpoint, path: '/v4/subscribers', body }, opts);
    const subscriber = a.data.subscriber as Subscriber;
    verifyEcho(input, subscriber, endpoint, {
      fieldValuesPending: a.status === 202,
      knownFieldKeys: this.knownFieldKeys,
    });
    const created = a.status === 201 || a.status === 202 || (a.status === 200 && a.ambiguousBefore);
    return { subscriber, created };
  }

  private async update(id: number, input: SubscriberUpdate, opts?: CallOptions): Promise<Subscriber> {
    const body = withoutUndefined({
      email_address: input.email_address,
      first_name: input.first_name,
      fields: input.fields,
    });
    const endpoint = 'PUT /v4/subscribers/:id';
    const a = await this.call({ method: 'PUT', endpoint, path: `/v4/subscribers/${id}`, body }, opts);
    const subscriber = a.data.subscriber as Subscriber;
    verifyEcho(input, subscriber, endpoint, {
      fieldValuesPending: a.status === 202,
      knownFieldKeys: this.knownFieldKeys,
    });
    return subscriber;
  }

  /**
   * Kit documents 204 No Content: the subscriber is then read back (a second call), unless the caller knows it
   * already (Kit's unsubscribe changes nothing but the state).
   */
  private async unsubscribe(id: number, opts?: CallOptions, current?: Subscriber): Promise<Subscriber> {
    const a = await this.call(
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
    return this.subscribers.get(id, opts);
  }

  // ---- tags --------------------------------------------------------------------------------------------------

  private allTags(opts?: CallOptions): Promise<Tag[]> {
    return collectAll(
      cursorPages((after) =>
        this.page<Tag>(
          { method: 'GET', endpoint: 'GET /v4/tags', path: '/v4/tags', query: pageQuery({ after }) },
          'tags',
          opts,
        ),
      ),
    );
  }

  private async createTag(name: string, opts?: CallOptions): Promise<Tag> {
    const a = await this.call({ method: 'POST', endpoint: 'POST /v4/tags', path: '/v4/tags', body: { name } }, opts, {
      acceptAfterAmbiguous: (s) => s === 422,
    });
    if (a.status !== 422) return a.data.tag as Tag;
    // Our own earlier attempt created it: "Name has already been taken". Anything else stays an error.
    const clash = errorForStatus(a.status, a.data, 'POST /v4/tags') as KitValidationError;
    if (!clash.isUniquenessClash) throw clash;
    const wanted = name.trim();
    const found = (await this.allTags(opts)).find((t) => t.name === wanted);
    if (!found) throw clash;
    return found;
  }

  private tagSubscribers(
    tagId: number,
    query: { status?: SubscriberState | 'all' } = {},
    page: PageRequest = {},
    opts?: CallOptions,
  ): Promise<Page<TaggedSubscriber>> {
    return this.page<TaggedSubscriber>(
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

  // ---- bulk --------------------------------------------------------------------------------------------------

  private async bulkTag(taggings: Tagging[], opts?: CallOptions): Promise<BulkResult<TaggedSubscriber, Tagging>> {
    const result: BulkResult<TaggedSubscriber, Tagging> = { succeeded: [], failures: [] };
    for (const chunk of chunks(taggings, BULK_CHUNK)) {
      const a = await this.bulkChunk(
        {
          method: 'POST',
          endpoint: 'POST /v4/bulk/tags/subscribers',
          path: '/v4/bulk/tags/subscribers',
          body: { taggings: chunk },
        },
        chunk,
        result,
        opts,
      );
      if (!a) continue;
      result.succeeded.push(...((a.data?.subscribers ?? []) as TaggedSubscriber[]));
      for (const f of (a.data?.failures ?? []) as any[]) result.failures.push(taggingFailure(f, chunk));
    }
    return result;
  }

  private async bulkUpsert(
    subscribers: SubscriberInput[],
    opts?: CallOptions,
  ): Promise<BulkResult<Subscriber, SubscriberInput>> {
    const result: BulkResult<Subscriber, SubscriberInput> = { succeeded: [], failures: [] };
    for (const chunk of chunks(subscribers, BULK_CHUNK)) {
      const body = { subscribers: chunk.map((s) => withoutUndefined({ ...s })) };
      const a = await this.bulkChunk(
        { method: 'POST', endpoint: 'POST /v4/bulk/subscribers', path: '/v4/bulk/subscribers', body },
        chunk,
        result,
        opts,
      );
      if (!a) continue;
      result.succeeded.push(...((a.data?.subscribers ?? []) as Subscriber[]));
      for (const f of (a.data?.failures ?? []) as any[]) {
        const email =
          typeof f?.subscriber?.email_address === 'string' ? f.subscriber.email_address.toLowerCase() : undefined;
        const item =
          (email && chunk.find((s) => s.email_address.toLowerCase() === email)) ||
          ({
            email_address: f?.subscriber?.email_address ?? '',
            first_name: f?.subscriber?.first_name,
          } as SubscriberInput);
        result.failures.push({ item, errors: stringList(f?.errors) });
      }
    }
    return result;
  }

  /**
   * One synchronous bulk call. A chunk Kit refuses as a whole (422, 404…) becomes a failure of each of its
   * items; auth, rate-limit and availability errors concern every chunk and are thrown.
   */
  private async bulkChunk<TIn>(
    req: KitRequest,
    chunk: TIn[],
    result: { failures: BulkFailure<TIn>[] },
    opts?: CallOptions,
  ): Promise<Answer | undefined> {
    try {
      return await this.call(req, opts);
    } catch (e) {
      if (
        e instanceof KitError &&
        e.status !== undefined &&
        e.status >= 400 &&
        e.status < 500 &&
        ![401, 403, 413, 429].includes(e.status)
      ) {
        for (const item of chunk) result.failures.push({ item, errors: e.errors.length > 0 ? e.errors : [e.message] });
        return undefined;
      }
      throw e;
    }
  }

  // ---- custom fields -----------------------------------------------------------------------------------------

  private async allCustomFields(opts?: CallOptions): Promise<CustomField[]> {
    const fields = await collectAll(
      cursorPages((after) =>
        this.page<CustomField>(
          { method: 'GET', endpoint: 'GET /v4/custom_fields', path: '/v4/custom_fields', query: pageQuery({ after }) },
          'custom_fields',
          opts,
        ),
      ),
    );
    this.knownFieldKeys = new Set(fields.map((f) => f.key));
    return fields;
  }

  private async createCustomField(label: string, opts?: CallOptions): Promise<CustomField> {
    const a = await this.call(
      { method: 'POST', endpoint: 'POST /v4/custom_fields', path: '/v4/custom_fields', body: { label } },
      opts,
      { acceptAfterAmbiguous: (s) => s === 422 },
    );
    let field: CustomField | undefined;
    if (a.status !== 422) field = a.data.custom_field as CustomField;
    else {
      const clash = errorForStatus(a.status, a.data, 'POST /v4/custom_fields') as KitValidationError;
      if (!clash.isUniquenessClash) throw clash;
      field = findField(await this.allCustomFields(opts), label);
      if (!field) throw clash;
    }
    this.knownFieldKeys?.add(field.key);
    return field;
  }

  // ---- the exchange loop -------------------------------------------------------------------------------------

  private async page<T>(req: KitRequest, key: string, opts?: CallOptions): Promise<Page<T>> {
    const a = await this.call(req, opts);
    return toPage<T>(a.data, key);
  }

  /**
   * One logical call: as many exchanges as the retry rules allow, each admitted by the limiter. Throws the
   * KitError of the last failure.
   */
  private async call(req: KitRequest, opts: CallOptions = {}, hooks: CallHooks = {}): Promise<Answer> {
    const maxWaitMs = opts.maxWaitMs ?? this.defaultMaxWaitMs;
    const deadline = maxWaitMs === undefined ? undefined : this.now() + maxWaitMs;
    let ambiguous = false;
    let renewedAuth = false;
    let lastError: KitError | undefined;
    for (let attempt = 1; ; attempt++) {
      const priority: LimiterPriority = attempt === 1 ? (opts.priority ?? 'interactive') : 'retry';
      let version = '';
      let outcome: Outcome;
      try {
        outcome = await this.limiter.schedule(
          async () => {
            const auth = await this.auth.current();
            version = auth.version;
            return this.transport.send(req, auth.headers, attempt, opts.signal);
          },
          {
            priority,
            maxWaitMs: deadline === undefined ? undefined : Math.max(0, deadline - this.now()),
            signal: opts.signal,
          },
        );
      } catch (e) {
        // A retry that cannot start before the caller's deadline: the failure that caused it says more.
        if (lastError && e instanceof KitRateLimitedError) throw lastError;
        throw e;
      }

      if (outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300) {
        return { status: outcome.status, data: outcome.data, ambiguousBefore: ambiguous };
      }
      if (outcome.kind === 'response' && outcome.status === 401 && !renewedAuth) {
        renewedAuth = true;
        if (await this.auth.recover(version)) continue;
      }
      const status = outcome.kind === 'response' ? outcome.status : undefined;
      if (status !== undefined && ambiguous && hooks.acceptAfterAmbiguous?.(status)) {
        return { status, data: (outcome as { data: unknown }).data, ambiguousBefore: true };
      }

      const failure = {
        method: req.method,
        endpoint: req.endpoint,
        status,
        errorCode: outcome.kind === 'network' ? outcome.code : undefined,
        attempt,
        maxAttempts: this.policy.maxAttempts,
      };
      const retryAfterMs =
        outcome.kind === 'response' ? parseRetryAfter(outcome.headers['retry-after'], this.now()) : undefined;
      const transient = isTransient(failure);
      const delay = backoffMs(attempt, retryAfterMs, this.random, this.policy);
      const error =
        outcome.kind === 'response'
          ? errorForStatus(outcome.status, outcome.data, req.endpoint, transient ? (retryAfterMs ?? delay) : undefined)
          : errorForNetwork(outcome.code, outcome.detail, req.endpoint, transient ? delay : undefined);
      if (!isRetryable(failure)) throw error;
      if (deadline !== undefined && this.now() + delay > deadline) throw error;
      lastError = error;
      if (isAmbiguous(failure)) ambiguous = true;
      if (status === 429) {
        // Kit's window is shared by every caller of this credential: all of them wait, and this call waits in
        // the limiter's retry lane, first in line once the pause ends.
        this.limiter.pauseFor(delay);
      } else {
        await this.sleep(delay);
      }
    }
  }

  /**
   * POST /oauth/token for the OAuth session: reported through onCall, never retried (see retry.ts). It bypasses
   * the limiter: Kit meters its v4 API per credential, not the OAuth token endpoint, and the calls waiting for
   * the new token would otherwise queue behind it.
   */
  private exchangeToken(body: Record<string, string>): Promise<Outcome> {
    return this.transport.send({ method: 'POST', endpoint: TOKEN_ENDPOINT, path: '/oauth/token', body }, {}, 1);
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function withoutUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
}

/** Kit documents bulk tagging failures as `[any]`: accept a tagging, its ids, or a subscriber with its id. */
function taggingFailure(f: any, chunk: Tagging[]): BulkFailure<Tagging> {
  const t = f?.tagging ?? f;
  const tagId = Number(t?.tag_id);
  const subscriberId = Number(t?.subscriber_id ?? f?.subscriber?.id);
  const item = chunk.find((c) => c.tag_id === tagId && c.subscriber_id === subscriberId) ??
    chunk.find((c) => c.subscriber_id === subscriberId) ?? { tag_id: tagId, subscriber_id: subscriberId };
  return { item, errors: stringList(f?.errors) };
}
