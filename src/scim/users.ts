import SCIMMY from 'scimmy';
import type { KitApi } from '../kit/api';
import { KitNotFoundError } from '../kit/errors';
import type { CallOptions, Subscriber, SubscriberQuery } from '../kit/types';
import { ScimBadRequest, ScimConflict, ScimNotFound } from './errors';
import { asInvalidValue } from './errorTable';
import { LIFECYCLE_FIELDS, type SubscriberFieldMap } from './fieldMap';
import { type Dnf, dateBounds, equalityValues, matchesFilter } from './filter';
import type { ListQuery } from './listQuery';
import { mappedUser } from './mappedUsers';
import type { CursorPager, WalkSource } from './paging/cursorPager';
import { assertSameId, booleanise, checkUserPatch, normalizePatch } from './patchShapes';
import { deletedUserDetail, reactivationDetail } from './reactivation';
import {
  type GroupRef,
  isDeleted,
  kitEmailOf,
  looksLikeEmail,
  subscriberChanges,
  subscriberToUser,
  userToSubscriberWrite,
} from './userMapping';

export type UserOperation = 'create' | 'replace' | 'patch' | 'delete';

/** What the Users resource reports outward: metrics, audit, cache invalidation. */
export interface UserEvents {
  reactivationRejected(operation: UserOperation, email: string): void;
  deprovisioned(kind: 'deactivate' | 'delete', id: string): void;
  changed(): Promise<void>;
}

/** Group membership as seen from a user (Groups resource, issue #4). */
export interface UserGroupsSource {
  ofSubscriber(id: number, opts: CallOptions): Promise<GroupRef[]>;
  ofSubscribers(ids: number[], opts: CallOptions): Promise<Map<number, GroupRef[]>>;
  /** Takes every group tag off a subscriber (before it is deleted). */
  removeAll(id: number, opts: CallOptions): Promise<void>;
  /** The tag that marks deleted subscribers, so lists can count them in one call. */
  markDeleted(id: number, opts: CallOptions): Promise<void>;
  deletedCount(opts: CallOptions): Promise<number>;
  /** Membership of every user at once, for filters on `groups` evaluated while walking pages. */
  snapshot(opts: CallOptions): Promise<{ generation: number; of(id: number): GroupRef[] }>;
}

export interface UserDirectoryDeps {
  kit: KitApi;
  fields: SubscriberFieldMap;
  pager: CursorPager;
  groups: UserGroupsSource;
  events: UserEvents;
  now?: () => Date;
}

const INTERACTIVE: CallOptions = { priority: 'interactive' };
const MAX_EMAIL_LOOKUPS = 10;

export interface UserList {
  resources: Record<string, any>[];
  totalResults: number;
}

/** A day as Kit's date filters take it (yyyy-mm-dd, UTC), shifted by whole days. */
function kitDay(at: number, shiftDays: number): string {
  return new Date(at + shiftDays * 86_400_000).toISOString().slice(0, 10);
}

export class UserDirectory {
  private readonly now: () => Date;

  constructor(private readonly deps: UserDirectoryDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(id: string, withGroups = true): Promise<Record<string, any>> {
    const sub = await this.load(id);
    const groups = withGroups ? await this.deps.groups.ofSubscriber(sub.id, INTERACTIVE) : undefined;
    return subscriberToUser(sub, this.deps.fields, groups);
  }

  async list(query: ListQuery, withGroups = true): Promise<UserList> {
    const { startIndex, count, filter } = query;
    const direct = filter ? await this.directLookup(filter) : undefined;
    let subscribers: Subscriber[];
    let totalResults: number;
    if (direct) {
      const groupsOf =
        query.filterText && /groups/i.test(query.filterText)
          ? await this.deps.groups.ofSubscribers(
              direct.map((s) => s.id),
              INTERACTIVE,
            )
          : undefined;
      const matching = direct.filter((s) => this.listed(s, filter, groupsOf?.get(s.id)));
      this.sortInPlace(matching, query);
      totalResults = matching.length;
      subscribers = matching.slice(startIndex - 1, startIndex - 1 + count);
    } else {
      const groupsFilter = query.filterText !== undefined && /groups/i.test(query.filterText);
      const snapshot = groupsFilter ? await this.deps.groups.snapshot({ priority: 'background' }) : undefined;
      const page = await this.deps.pager.window(this.walkSource(query, snapshot), startIndex, count);
      subscribers = page.items;
      totalResults = page.totalResults;
    }
    const groups = withGroups
      ? await this.deps.groups.ofSubscribers(
          subscribers.map((s) => s.id),
          { priority: direct ? 'interactive' : 'background' },
        )
      : undefined;
    return {
      resources: subscribers.map((s) => mappedUser(s, this.deps.fields, groups ? (groups.get(s.id) ?? []) : undefined)),
      totalResults,
    };
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async create(input: Record<string, any>): Promise<Record<string, any>> {
    const user = this.coerce(input);
    const email = this.requireEmail(user);
    const existing = await this.deps.kit.subscribers.findByEmail(email, INTERACTIVE);
    if (existing) {
      // Kit's POST is an upsert: touching it now would overwrite the existing subscriber's name.
      if (isDeleted(existing, this.deps.fields)) {
        // GET says 404 for this user, so "cannot reactivate an inactive subscriber" would read as nonsense.
        this.deps.events.reactivationRejected('create', email);
        throw new ScimConflict(
          deletedUserDetail(email, existing.id, existing.fields?.[this.deps.fields.key(LIFECYCLE_FIELDS.deletedAt)]),
        );
      }
      if (existing.state !== 'active') {
        this.deps.events.reactivationRejected('create', email);
        throw new ScimConflict(reactivationDetail(existing.state, email));
      }
      throw new ScimConflict(`A user with email ${email} already exists (id ${existing.id}).`);
    }
    const write = userToSubscriberWrite(user, this.deps.fields, email);
    const { subscriber, created } = await this.deps.kit.subscribers.upsert(
      {
        ...write,
        fields: { ...this.withoutNulls(write.fields), [this.lastModifiedKey]: this.now().toISOString() },
        // Kit applies `state` only when the upsert creates the subscriber, which is the case here.
        state: user.active === false ? 'inactive' : 'active',
      },
      INTERACTIVE,
    );
    await this.deps.events.changed();
    if (!created) throw new ScimConflict(`A user with email ${email} was created concurrently (id ${subscriber.id}).`);
    return subscriberToUser(subscriber, this.deps.fields, []);
  }

  async replace(id: string, input: Record<string, any>): Promise<Record<string, any>> {
    // Everything that can be checked without Kit is checked before the first Kit call.
    assertSameId(input, id, 'User');
    const user = this.coerce(input);
    const email = this.requireEmail(user);
    const current = await this.load(id);
    return this.apply(current, user, email, 'replace');
  }

  async patch(id: string, body: unknown): Promise<Record<string, any>> {
    // Shape, paths and values are checked against the schema before the two Kit reads a PATCH needs.
    const message = normalizePatch(body, 'User');
    checkUserPatch(message);
    const current = await this.load(id);
    const groups = await this.deps.groups.ofSubscriber(current.id, INTERACTIVE);
    const before = subscriberToUser(current, this.deps.fields, groups);
    const source = asInvalidValue(() => new SCIMMY.Schemas.User(before, 'out'));
    let patched: Record<string, any> | undefined;
    await new SCIMMY.Messages.PatchOp(message as any).apply(source, async (instance) => {
      patched = JSON.parse(JSON.stringify(instance));
      return instance as any;
    });
    if (!patched) return before;
    const email = this.requireEmail(patched);
    return this.apply(current, patched, email, 'patch', groups);
  }

  async delete(id: string): Promise<void> {
    const current = await this.load(id);
    // Order matters for a Kit outage midway: the tombstone goes last, so a repeated DELETE finishes the job.
    await this.deps.groups.removeAll(current.id, INTERACTIVE);
    if (current.state === 'active') await this.deps.kit.subscribers.unsubscribe(current.id, INTERACTIVE);
    await this.deps.groups.markDeleted(current.id, INTERACTIVE);
    const at = this.now().toISOString();
    await this.deps.kit.subscribers.update(
      current.id,
      // The deletion moves meta.lastModified too, in the same write (no extra Kit call).
      { fields: { [this.deps.fields.key(LIFECYCLE_FIELDS.deletedAt)]: at, [this.lastModifiedKey]: at } },
      INTERACTIVE,
    );
    await this.deps.events.changed();
    this.deps.events.deprovisioned('delete', id);
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private get lastModifiedKey(): string {
    return this.deps.fields.key(LIFECYCLE_FIELDS.lastModified);
  }

  private async apply(
    current: Subscriber,
    user: Record<string, any>,
    email: string,
    operation: 'replace' | 'patch',
    groups?: GroupRef[],
  ): Promise<Record<string, any>> {
    const wantsActive = user.active === undefined ? undefined : user.active === true || user.active === 'true';
    if (wantsActive === true && current.state !== 'active') {
      this.deps.events.reactivationRejected(operation, current.email_address);
      throw new ScimBadRequest('mutability', reactivationDetail(current.state, current.email_address));
    }
    const changes = subscriberChanges(current, userToSubscriberWrite(user, this.deps.fields, email));
    let sub = current;
    const deactivate = wantsActive === false && current.state === 'active';
    if (Object.keys(changes).length > 0 || deactivate) {
      // Every change moves meta.lastModified, deactivation included: an IGA delta read (`meta.lastModified gt
      // T`) must never miss one. The stamp rides on the one update any other change needs, and is written
      // before the unsubscribe: that is one-way and carries no fields, so a stamp after it could be lost to a
      // failure in between, leaving a deactivation no delta read would ever see. (A failed unsubscribe after
      // the stamp only makes the user show up in a delta read unchanged, which costs the reader nothing.)
      sub = await this.deps.kit.subscribers.update(
        current.id,
        { ...changes, fields: { ...changes.fields, [this.lastModifiedKey]: this.now().toISOString() } },
        INTERACTIVE,
      );
      if (deactivate) {
        sub = await this.deps.kit.subscribers.unsubscribe(current.id, INTERACTIVE, sub);
        this.deps.events.deprovisioned('deactivate', String(current.id));
      }
      await this.deps.events.changed();
    }
    const memberOf = groups ?? (await this.deps.groups.ofSubscriber(current.id, INTERACTIVE));
    return subscriberToUser(sub, this.deps.fields, memberOf);
  }

  /** The subscriber behind a SCIM id; 404 for anything that is not a live, undeleted subscriber. */
  private async load(id: string): Promise<Subscriber> {
    // Canonical ids only: "001" is not user 1, so every user has exactly one URL.
    if (!/^[1-9]\d{0,14}$/.test(id)) throw new ScimNotFound(`User ${id} not found`);
    try {
      const sub = await this.deps.kit.subscribers.get(Number(id), INTERACTIVE);
      if (isDeleted(sub, this.deps.fields)) throw new ScimNotFound(`User ${id} not found`);
      return sub;
    } catch (err) {
      if (err instanceof KitNotFoundError) throw new ScimNotFound(`User ${id} not found`);
      throw err;
    }
  }

  private coerce(input: Record<string, any>): Record<string, any> {
    const instance = asInvalidValue(() => new SCIMMY.Schemas.User(booleanise(input) as Record<string, any>, 'in'));
    return JSON.parse(JSON.stringify(instance));
  }

  private requireEmail(user: Record<string, any>): string {
    const email = kitEmailOf(user);
    if (!email) {
      throw new ScimBadRequest(
        'invalidValue',
        'A Kit subscriber needs an email address: userName is not an email and emails holds no valid address.',
      );
    }
    return email;
  }

  private withoutNulls(fields: Record<string, string | null>): Record<string, string> {
    return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as Record<string, string>;
  }

  /** Whether a subscriber appears in a list: a user (not tombstoned) matching the filter, if any. */
  private listed(sub: Subscriber, filter: Dnf | undefined, groups?: GroupRef[]): boolean {
    if (isDeleted(sub, this.deps.fields)) return false;
    return !filter || matchesFilter(subscriberToUser(sub, this.deps.fields, groups), filter);
  }

  /**
   * Filters Kit can answer by identity: `id eq`, or `userName eq` / `emails.value eq` with email values
   * (one Kit call each). Anything else walks cursor pages.
   */
  private async directLookup(filter: Dnf): Promise<Subscriber[] | undefined> {
    const ids = equalityValues(filter, ['id']);
    if (ids && ids.length <= MAX_EMAIL_LOOKUPS) {
      // Only "no such user" drops out: a Kit failure must not turn into an empty list (read as a deletion).
      const found = await Promise.all(
        ids.map((id) =>
          this.load(String(id)).catch((err) => {
            if (err instanceof ScimNotFound) return undefined;
            throw err;
          }),
        ),
      );
      return found.filter((s): s is Subscriber => s !== undefined);
    }
    const emails =
      equalityValues(filter, ['userName']) ??
      equalityValues(filter, ['emails', 'value']) ??
      equalityValues(filter, ['emails']);
    if (emails && emails.length <= MAX_EMAIL_LOOKUPS && emails.every(looksLikeEmail)) {
      const unique = [...new Set(emails.map((e) => String(e).trim().toLowerCase()))];
      const found = await Promise.all(unique.map((e) => this.deps.kit.subscribers.findByEmail(e, INTERACTIVE)));
      return found.filter((s): s is Subscriber => s !== null);
    }
    return undefined;
  }

  private walkSource(
    query: ListQuery,
    groups?: { generation: number; of(id: number): GroupRef[] },
  ): WalkSource<Subscriber> {
    const kitQuery = this.pushdown(query);
    const filter = query.filter;
    const kit = this.deps.kit;
    const membership = this.deps.groups;
    return {
      // A filter on groups depends on memberships too: the walk is only reused while they are unchanged.
      fingerprint: `users:${JSON.stringify(kitQuery)}:${query.filterText ?? ''}:${groups ? `g${groups.generation}` : ''}`,
      fetch: async (after, includeTotalCount) => {
        const page = await kit.subscribers.list(
          kitQuery,
          { after, perPage: 1000, includeTotalCount },
          { priority: 'background' },
        );
        return {
          items: page.items,
          next: page.pagination.has_next_page ? page.pagination.end_cursor : null,
          totalCount: page.totalCount,
        };
      },
      visible: (s) => this.listed(s, filter, groups?.of(s.id)),
      // Without a residual filter the total is Kit's count less the tombstoned (deleted) subscribers.
      totalFromKit: filter
        ? undefined
        : async (kitTotal) =>
            kitQuery.status === 'active'
              ? kitTotal
              : kitTotal - (await membership.deletedCount({ priority: 'background' })),
    };
  }

  /** The part of a list query Kit can answer itself; the rest is evaluated on fetched pages. */
  private pushdown(query: ListQuery): SubscriberQuery {
    const q: SubscriberQuery = { status: 'all', sort_field: 'id', sort_order: 'asc' };
    const f = query.filter;
    if (f && f.length === 1) {
      const active = equalityValues(f, ['active']);
      if (active && active.length === 1 && String(active[0]).toLowerCase() === 'true') q.status = 'active';
      // Kit filters dates by day (yyyy-mm-dd) and does not say whether its bounds are inclusive: widen by a day
      // on each side so Kit returns a superset, and let the exact filter decide on the rows.
      const created = dateBounds(f, ['meta', 'created']);
      if (created?.from !== undefined) q.created_after = kitDay(created.from, -1);
      if (created?.to !== undefined) q.created_before = kitDay(created.to, +1);
      // meta.lastModified is the server's own stamp; Kit's updated_at is never earlier than it (any later change
      // in Kit moves updated_at on), so only a lower bound can be pushed down.
      const modified = dateBounds(f, ['meta', 'lastModified']);
      if (modified?.from !== undefined) q.updated_after = kitDay(modified.from, -1);
    }
    if (query.sortBy && ['id', 'meta.created'].includes(query.sortBy) && query.sortOrder === 'descending') {
      q.sort_order = 'desc';
    }
    return q;
  }

  private sortInPlace(subs: Subscriber[], query: ListQuery): void {
    const dir = query.sortOrder === 'descending' ? -1 : 1;
    subs.sort((a, b) => (a.id - b.id) * dir);
  }
}
