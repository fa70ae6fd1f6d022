import { type KitApi, type KitCapabilities, V4_CAPABILITIES } from '../../src/kit/api';
import { KitNotFoundError, KitValidationError } from '../../src/kit/errors';
import type {
  Account,
  BulkResult,
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
} from '../../src/kit/types';

// An in-memory Kit account behind the KitApi port, for the core's unit tests (no sockets). It behaves as Kit's
// API documentation says (docs/kit/api.md), where the core depends on it:
// - POST /v4/subscribers is an upsert keyed by email (any letter case): an existing subscriber keeps its state;
// - unsubscribing is one-way: nothing in the API makes a subscriber active again;
// - a value for a custom field the account does not have is dropped without a word;
// - lists come in cursor pages, oldest id first, `status` defaulting to active;
// - tag names are unique regardless of letter case; untagging a non-member is Kit's 404 (answered false).
// Every method call is logged by name, one entry per Kit call (a walk logs each page it fetches), so tests
// can assert exactly what the core asked of Kit.

export interface FakeKitCall {
  name: string;
  args: unknown[];
}

export interface FakeKitOptions {
  capabilities?: Partial<KitCapabilities>;
  /** Rows per page of every list (Kit: up to 1,000). */
  pageSize?: number;
  now?: () => number;
}

const encodeCursor = (id: number) => Buffer.from(`id:${id}`).toString('base64');
const decodeCursor = (cursor: string | null | undefined) =>
  cursor ? Number(Buffer.from(cursor, 'base64').toString().slice(3)) : 0;

export class FakeKit implements KitApi {
  readonly capabilities: KitCapabilities;
  readonly calls: FakeKitCall[] = [];
  private readonly pageSize: number;
  private readonly now: () => number;
  private nextId = 1;
  private readonly subs = new Map<number, Subscriber>();
  private readonly tagsById = new Map<number, Tag>();
  /** tag id → subscriber id → tagged_at */
  private readonly taggings = new Map<number, Map<number, string>>();
  private readonly fieldList: CustomField[] = [];

  constructor(opts: FakeKitOptions = {}) {
    this.capabilities = { ...V4_CAPABILITIES, ...opts.capabilities };
    this.pageSize = opts.pageSize ?? 1000;
    this.now = opts.now ?? (() => Date.parse('2030-01-01T00:00:00Z'));
  }

  // ---- for tests: the account's state, without a logged call --------------------------------------------

  /** The names of the calls made so far (e.g. "subscribers.upsert"), in order. */
  callNames(): string[] {
    return this.calls.map((c) => c.name);
  }

  /** Forgets the call log (after a test's setup). */
  clearCalls(): void {
    this.calls.length = 0;
  }

  subscriber(id: number): Subscriber | undefined {
    const s = this.subs.get(id);
    return s && structuredClone(s);
  }

  tagNamed(name: string): Tag | undefined {
    return [...this.tagsById.values()].find((t) => t.name.toLowerCase() === name.toLowerCase());
  }

  tag(id: number): Tag | undefined {
    return this.tagsById.get(id);
  }

  /** Subscriber ids carrying the tag, ascending. */
  membersOf(tagId: number): number[] {
    return [...(this.taggings.get(tagId)?.keys() ?? [])].sort((a, b) => a - b);
  }

  fieldKey(label: string): string {
    const field = this.fieldList.find((f) => f.label === label);
    if (!field) throw new Error(`no custom field ${label}`);
    return field.key;
  }

  /** A subscriber made in Kit directly (a form, the Kit app), outside the server. */
  seedSubscriber(email: string, init: { first_name?: string; state?: SubscriberState } = {}): Subscriber {
    return this.createSubscriber({ email_address: email, first_name: init.first_name, state: init.state });
  }

  seedTag(name: string): Tag {
    return this.createTag(name);
  }

  seedTagging(tagId: number, subscriberId: number): void {
    this.tagIt(tagId, subscriberId);
  }

  // ---- KitApi ------------------------------------------------------------------------------------------

  async account(): Promise<Account> {
    this.log('account', []);
    return { user: { email: 'owner@example.com' }, account: { id: 1, name: 'Fake account' } };
  }

  readonly subscribers: KitApi['subscribers'] = {
    list: async (query: SubscriberQuery, page: PageRequest = {}) => {
      this.log('subscribers.list', [query, page]);
      return this.listSubscribers(query, page);
    },
    pages: (query: SubscriberQuery, opts?: { startAfter?: string | null }) =>
      this.walk(opts?.startAfter ?? null, (after) => this.subscribers.list(query, { after })),
    find: async (id: number) => {
      this.log('subscribers.find', [id]);
      return this.subscriber(id) ?? null;
    },
    findByEmail: async (email: string) => {
      this.log('subscribers.findByEmail', [email]);
      const found = this.byEmail(email);
      return found ? structuredClone(found) : null;
    },
    upsert: async (input: SubscriberInput) => {
      this.log('subscribers.upsert', [input]);
      const existing = this.byEmail(input.email_address);
      if (!existing) return { subscriber: this.createSubscriber(input), created: true };
      // Kit never changes an existing subscriber's state through the upsert.
      this.write(existing, { first_name: input.first_name, fields: input.fields });
      return { subscriber: structuredClone(existing), created: false };
    },
    update: async (id: number, input: SubscriberUpdate) => {
      this.log('subscribers.update', [id, input]);
      const sub = this.requireSubscriber(id, 'PUT /v4/subscribers/:id');
      if (input.email_address !== undefined) {
        const other = this.byEmail(input.email_address);
        if (other && other.id !== id) {
          throw new KitValidationError('Email address has already been taken', {
            status: 422,
            errors: ['Email address has already been taken'],
            endpoint: 'PUT /v4/subscribers/:id',
          });
        }
        sub.email_address = input.email_address;
      }
      this.write(sub, input);
      return structuredClone(sub);
    },
    unsubscribe: async (id: number) => {
      this.log('subscribers.unsubscribe', [id]);
      const sub = this.requireSubscriber(id, 'POST /v4/subscribers/:id/unsubscribe');
      sub.state = 'inactive';
      return structuredClone(sub);
    },
    tags: async (id: number) => {
      this.log('subscribers.tags', [id]);
      return [...this.taggings]
        .filter(([, members]) => members.has(id))
        .map(([tagId]) => ({ ...this.tagsById.get(tagId)! }));
    },
  };

  readonly tags: KitApi['tags'] = {
    list: async () => {
      this.log('tags.list', []);
      return [...this.tagsById.values()].map((t) => ({ ...t }));
    },
    createIfFree: async (name: string) => {
      this.log('tags.createIfFree', [name]);
      return this.tagNamed(name.trim()) ? null : this.createTag(name);
    },
    createOrFind: async (name: string) => {
      this.log('tags.createOrFind', [name]);
      const found = this.tagNamed(name.trim());
      return found ? { tag: { ...found }, created: false } : { tag: this.createTag(name), created: true };
    },
    renameIfFree: async (id: number, name: string) => {
      this.log('tags.renameIfFree', [id, name]);
      const tag = this.tagsById.get(id);
      if (!tag) throw new KitNotFoundError('Not Found', { status: 404, endpoint: 'PUT /v4/tags/:id' });
      const holder = this.tagNamed(name.trim());
      if (holder && holder.id !== id) return null;
      tag.name = name.trim();
      return { ...tag };
    },
    tagSubscriber: async (tagId: number, subscriberId: number) => {
      this.log('tags.tagSubscriber', [tagId, subscriberId]);
      this.requireSubscriber(subscriberId, 'POST /v4/tags/:tag_id/subscribers/:id');
      this.tagIt(tagId, subscriberId);
    },
    untag: async (tagId: number, subscriberId: number) => {
      this.log('tags.untag', [tagId, subscriberId]);
      return this.taggings.get(tagId)?.delete(subscriberId) ?? false;
    },
    subscribers: async (tagId: number, query: { status?: string } = {}, page: PageRequest = {}) => {
      this.log('tags.subscribers', [tagId, query, page]);
      if (!this.tagsById.has(tagId)) {
        throw new KitNotFoundError('Not Found', { status: 404, endpoint: 'GET /v4/tags/:tag_id/subscribers' });
      }
      const members = this.taggings.get(tagId)!;
      const rows = [...members.keys()]
        .map((id) => this.subs.get(id)!)
        .filter((s) => this.hasStatus(s, (query.status as SubscriberQuery['status']) ?? 'active'))
        .map((s): TaggedSubscriber => ({ ...structuredClone(s), tagged_at: members.get(s.id)! }));
      return this.pageOf(rows, page);
    },
    subscriberPages: (tagId: number, query: { status?: string } = {}) =>
      this.walk(null, (after) => this.tags.subscribers(tagId, query as never, { after })),
  };

  readonly bulk: KitApi['bulk'] = {
    tagSubscribers: async (taggings: Tagging[]) => {
      // Kit takes 100 taggings per synchronous call.
      const result: BulkResult<TaggedSubscriber, Tagging> = { succeeded: [], failures: [] };
      for (let i = 0; i < taggings.length; i += 100) {
        const chunk = taggings.slice(i, i + 100);
        this.log('bulk.tagSubscribers', [chunk]);
        for (const t of chunk) {
          if (!this.subs.has(t.subscriber_id) || !this.tagsById.has(t.tag_id)) {
            result.failures.push({ item: t, errors: ['Subscriber not found'] });
            continue;
          }
          this.tagIt(t.tag_id, t.subscriber_id);
          const tagged_at = this.taggings.get(t.tag_id)!.get(t.subscriber_id)!;
          result.succeeded.push({ ...structuredClone(this.subs.get(t.subscriber_id)!), tagged_at });
        }
      }
      return result;
    },
  };

  readonly customFields: KitApi['customFields'] = {
    ensure: async (labels: readonly string[]) => {
      this.log('customFields.ensure', [labels]);
      const keys = new Map<string, string>();
      for (const label of labels) {
        let field = this.fieldList.find((f) => f.label === label);
        if (!field) {
          // Kit derives the key from the label.
          const key = label.toLowerCase().replace(/[^a-z0-9]+/g, '_');
          field = { id: this.nextId++, name: key, key, label };
          this.fieldList.push(field);
          for (const s of this.subs.values()) s.fields[key] = null;
        }
        keys.set(label, field.key);
      }
      return keys;
    },
  };

  // ---- internals ---------------------------------------------------------------------------------------

  private log(name: string, args: unknown[]): void {
    this.calls.push({ name, args: structuredClone(args) });
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  private byEmail(email: string): Subscriber | undefined {
    const wanted = email.trim().toLowerCase();
    return [...this.subs.values()].find((s) => s.email_address.toLowerCase() === wanted);
  }

  private requireSubscriber(id: number, endpoint: string): Subscriber {
    const sub = this.subs.get(id);
    if (!sub) throw new KitNotFoundError('Not Found', { status: 404, errors: ['Not Found'], endpoint });
    return sub;
  }

  private createSubscriber(input: SubscriberInput): Subscriber {
    const sub: Subscriber = {
      id: this.nextId++,
      first_name: input.first_name ?? null,
      email_address: input.email_address.trim(),
      state: input.state ?? 'active',
      created_at: this.stamp(),
      // Kit answers every account field, null when unset.
      fields: Object.fromEntries(this.fieldList.map((f) => [f.key, null])),
    };
    this.subs.set(sub.id, sub);
    this.write(sub, { fields: input.fields });
    return structuredClone(sub);
  }

  /** Applies a write; values for fields the account does not have are dropped silently, as Kit does. */
  private write(sub: Subscriber, input: { first_name?: string | null; fields?: Record<string, string | null> }): void {
    if (input.first_name !== undefined) sub.first_name = input.first_name;
    for (const [key, value] of Object.entries(input.fields ?? {})) {
      if (this.fieldList.some((f) => f.key === key)) sub.fields[key] = value;
    }
  }

  private createTag(name: string): Tag {
    const tag: Tag = { id: this.nextId++, name: name.trim(), created_at: this.stamp() };
    this.tagsById.set(tag.id, tag);
    this.taggings.set(tag.id, new Map());
    return { ...tag };
  }

  private tagIt(tagId: number, subscriberId: number): void {
    const members = this.taggings.get(tagId);
    if (!members)
      throw new KitNotFoundError('Not Found', { status: 404, endpoint: 'POST /v4/tags/:tag_id/subscribers/:id' });
    if (!members.has(subscriberId)) members.set(subscriberId, this.stamp());
  }

  private hasStatus(s: Subscriber, status: SubscriberQuery['status']): boolean {
    return status === 'all' || s.state === status;
  }

  private listSubscribers(query: SubscriberQuery, page: PageRequest): Page<Subscriber> {
    const email = query.email_address?.trim().toLowerCase();
    const rows = [...this.subs.values()]
      .filter((s) => this.hasStatus(s, query.status ?? 'active'))
      .filter((s) => email === undefined || s.email_address.toLowerCase() === email)
      .map((s) => structuredClone(s));
    return this.pageOf(rows, page);
  }

  private pageOf<T extends { id: number }>(rows: T[], page: PageRequest): Page<T> {
    const sorted = rows.sort((a, b) => a.id - b.id);
    const after = decodeCursor(page.after);
    const perPage = Math.min(page.perPage ?? this.pageSize, this.pageSize);
    const rest = sorted.filter((r) => r.id > after);
    const items = rest.slice(0, perPage);
    const last = items[items.length - 1];
    return {
      items,
      pagination: {
        has_previous_page: after > 0,
        has_next_page: rest.length > items.length,
        start_cursor: items[0] ? encodeCursor(items[0].id - 1) : null,
        end_cursor: last ? encodeCursor(last.id) : null,
        per_page: perPage,
      },
      ...(page.includeTotalCount ? { totalCount: sorted.length } : {}),
    };
  }

  private async *walk<T>(start: string | null, fetch: (after: string | null) => Promise<Page<T>>) {
    let after = start;
    for (;;) {
      const page = await fetch(after);
      yield page;
      if (!page.pagination.has_next_page) return;
      after = page.pagination.end_cursor;
    }
  }
}
