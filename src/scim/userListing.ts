import type { CallOptions, Subscriber, SubscriberQuery } from '../kit/types';
import type { KitApi } from '../kit/api';
import type { SubscriberFieldMap } from './fieldMap';
import type { CursorPager } from './paging/cursorPager';
import type { MirrorPages, UserGroupsSource, UserList } from './userSources';
import { type Dnf, dateBounds, equalityValues } from './filter';
import { filterReads, type ListQuery } from './listQuery';
import { mappedUser } from './mappedUsers';
import type { WalkSource } from './paging/cursorPager';
import type { CursorPosition, PageCursors } from './paging/pageCursors';
import { ScimBadRequest } from './errors';
import { mapInSlices, type TimeSlices, yieldEvery } from './paging/timeSlices';
import { identityKey } from './identity';
import { filterView, type GroupRef, isDeleted, looksLikeEmail, userPartsOf } from './userMapping';

// Lists of users (GET /Users, POST /Users/.search) and what each costs in Kit calls: a filter Kit can answer
// by identity is one call per id or email; anything else walks Kit's cursor pages (one call per 1,000
// subscribers, shared between the pages of one client's walk through the page cache), with what Kit can
// filter itself pushed down and the rest evaluated on the fetched rows.

const INTERACTIVE: CallOptions = { priority: 'interactive' };
/** Up to this many ids or emails are looked up one by one; more walk the pages. */
const MAX_EMAIL_LOOKUPS = 10;

export interface UserListingDeps {
  kit: KitApi;
  fields: SubscriberFieldMap;
  pager: CursorPager;
  groups: UserGroupsSource;
  mirror?: MirrorPages;
  /** The live, undeleted subscriber behind a SCIM id, if any. */
  find(id: string): Promise<Subscriber | undefined>;
  /** The subscriber with this email (any state), or null: from the mirror while complete, else Kit. */
  byEmail(email: string): Promise<Subscriber | null>;
  /** Subscribers with the change journal's meta.lastModified folded in. */
  known<T extends Subscriber>(subs: T[]): Promise<T[]>;
  /** RFC 9865 cursors; absent where Kit has no cursors of its own (v3): `cursor` is then refused. */
  cursors?: PageCursors;
}

/** A day as Kit's date filters take it (yyyy-mm-dd, UTC), shifted by whole days. */
function kitDay(at: number, shiftDays: number): string {
  return new Date(at + shiftDays * 86_400_000).toISOString().slice(0, 10);
}

export class UserListing {
  constructor(private readonly deps: UserListingDeps) {}

  async list(query: ListQuery, withGroups: boolean): Promise<UserList> {
    if (query.cursor !== undefined) return this.cursorPage(query, withGroups);
    const { startIndex, count, filter } = query;
    let direct = filter ? await this.directLookup(filter) : undefined;
    let subscribers: Subscriber[];
    let totalResults: number;
    if (direct) {
      const groupsOf = filterReads(query, 'groups')
        ? await this.deps.groups.ofSubscribers(
            direct.map((s) => s.id),
            INTERACTIVE,
          )
        : undefined;
      direct = await this.deps.known(direct);
      const listed = this.listedBy(query);
      const matching = direct.filter((s) => listed(s, groupsOf?.get(s.id)));
      this.sortInPlace(matching, query);
      totalResults = matching.length;
      subscribers = matching.slice(startIndex - 1, startIndex - 1 + count);
    } else {
      const groupsFilter = filterReads(query, 'groups');
      const snapshot = groupsFilter ? await this.deps.groups.snapshot({ priority: 'background' }) : undefined;
      const fromMirror = (await this.mirrorAnswers(query)) === true;
      const page = await this.deps.pager.window(this.walkSource(query, snapshot, fromMirror), startIndex, count);
      subscribers = page.items;
      totalResults = page.totalResults;
    }
    return this.answer(subscribers, totalResults, withGroups, direct ? 'interactive' : 'background');
  }

  private async answer(
    subscribers: Subscriber[],
    totalResults: number,
    withGroups: boolean,
    priority: CallOptions['priority'],
  ): Promise<UserList> {
    const groups = withGroups
      ? await this.deps.groups.ofSubscribers(
          subscribers.map((s) => s.id),
          { priority },
        )
      : undefined;
    return {
      // Users of cached (frozen) pages are mapped once and kept (mappedUsers.ts); a page of 1,000
      // is mapped in slices of time.
      resources: await mapInSlices(subscribers, (s) =>
        mappedUser(s, this.deps.fields, groups ? (groups.get(s.id) ?? []) : undefined),
      ),
      totalResults,
    };
  }

  /**
   * One page by cursor (RFC 9865): exactly one Kit call, the Kit page the cursor names. Unfiltered, that Kit page
   * is `count` subscribers long and its visible rows are the answer; filtered, it is 1,000 long and the answer
   * is the next `count` matching rows of it, so a page may hold fewer than `count` rows (RFC 7644 §3.4.2.4 allows
   * it) and the client goes on while there is a nextCursor. Every filter combines with cursors: the filter decides
   * the rows of each Kit page, with what Kit can narrow pushed down. The mirror is not read (its positions are
   * not Kit's cursors), nor are identity lookups: a cursor walk is Kit's own walk.
   */
  private async cursorPage(query: ListQuery, withGroups: boolean): Promise<UserList> {
    const cursors = this.deps.cursors;
    if (!cursors) {
      throw new ScimBadRequest('invalidValue', "Cursor paging needs Kit's v4 API; page by startIndex instead.");
    }
    const scope = `Users\n${query.filterText ?? ''}\n${query.sortBy ?? ''}\n${query.sortOrder}`;
    const at: CursorPosition = query.cursor ? cursors.read(query.cursor, scope, query.count) : { after: null, skip: 0 };
    if (query.count === 0) {
      // RFC 9865 §2: count=0 returns no resources, only totalResults, counted as index paging counts it. A walk
      // of pages of none would never end: there is no nextCursor.
      const { totalResults } = await this.list({ ...query, cursor: undefined, startIndex: 1 }, false);
      return { resources: [], totalResults, cursor: { totalResults } };
    }
    const snapshot = filterReads(query, 'groups')
      ? await this.deps.groups.snapshot({ priority: 'background' })
      : undefined;
    const source = this.walkSource(query, snapshot, false);
    const perPage = query.filter ? 1000 : query.count;
    const slices = yieldEvery();
    const page = await source.fetch(at.after, false, slices, perPage);
    const rows: Subscriber[] = [];
    for (const s of page.items) {
      await slices.pace();
      if (source.visible(s)) rows.push(s);
    }
    const answered = rows.slice(at.skip, at.skip + query.count);
    let next: CursorPosition | undefined;
    if (at.skip + answered.length < rows.length) next = { after: at.after, skip: at.skip + query.count };
    else if (page.next !== null) next = { after: page.next, skip: 0 };
    const list = await this.answer(answered, answered.length, withGroups, 'background');
    return { ...list, cursor: { next: next && cursors.issue(scope, { ...next, count: query.count }) } };
  }

  /**
   * Whether a subscriber appears in a list: a user (not tombstoned) matching the filter, if any. The filter
   * reads a view of the subscriber holding only the attributes it compares; the page answered is mapped in full.
   */
  private listedBy(query: ListQuery): (sub: Subscriber, groups?: GroupRef[]) => boolean {
    const fields = this.deps.fields;
    const matches = query.matches;
    if (!matches) return (sub) => !isDeleted(sub, fields);
    const parts = userPartsOf(query.filterAttributes ?? []);
    return (sub, groups) => !isDeleted(sub, fields) && matches(filterView(sub, fields, parts, groups));
  }

  /**
   * Filters Kit can answer by identity: `id eq`, or `userName eq` / `emails.value eq` with email values
   * (one Kit call each). Anything else walks cursor pages.
   */
  private async directLookup(filter: Dnf): Promise<Subscriber[] | undefined> {
    const ids = equalityValues(filter, ['id']);
    if (ids && ids.length <= MAX_EMAIL_LOOKUPS) {
      // Only "no such user" drops out: a Kit failure must not turn into an empty list (read as a deletion).
      const found = await Promise.all(ids.map((id) => this.deps.find(String(id))));
      return found.filter((s): s is Subscriber => s !== undefined);
    }
    const emails =
      equalityValues(filter, ['userName']) ??
      equalityValues(filter, ['emails', 'value']) ??
      equalityValues(filter, ['emails']);
    if (emails && emails.length <= MAX_EMAIL_LOOKUPS && emails.every(looksLikeEmail)) {
      const unique = [...new Set(emails.map((e) => String(e).trim().toLowerCase()))];
      const found = await Promise.all(unique.map((e) => this.deps.byEmail(e)));
      return found.filter((s): s is Subscriber => s !== null);
    }
    return this.mirrorIndexLookup(filter);
  }

  /**
   * `externalId eq` and `userName eq` with values that are not emails, from the mirror's indexes while it is
   * complete (O(1), 0 Kit calls); otherwise (undefined) a walk answers them. The filter still decides each row.
   */
  private async mirrorIndexLookup(filter: Dnf): Promise<Subscriber[] | undefined> {
    const mirror = this.deps.mirror;
    if (!mirror) return undefined;
    const external = equalityValues(filter, ['externalId']);
    const names = external ? undefined : equalityValues(filter, ['userName']);
    const values = external ?? names;
    if (!values || values.length > MAX_EMAIL_LOOKUPS || values.some(looksLikeEmail)) return undefined;
    if (!(await mirror.forFilters())) return undefined;
    const found = await Promise.all(
      values.map((v) => (external ? mirror.byExternalId(String(v)) : mirror.byUserName(String(v)))),
    );
    const unique = new Map(found.filter((s): s is Subscriber => s !== undefined).map((s) => [s.id, s]));
    return [...unique.values()];
  }

  /**
   * The users (not tombstoned) whose userName has the same identity key (identity.ts) as `userName`, for the
   * uniqueness check of a write (RFC 7643 §4.1.1: userName is unique, case-insensitively, within the service
   * provider). Kit has no index of its own on the field that holds a non-email userName, so this is the
   * `userName eq` lookup path: the mirror's userName index while the mirror answers filters (0 Kit calls; a
   * lookup mirror past its freshness is walked first, ceil(N/1000) calls shared by every lookup until it is
   * stale again), otherwise a walk of Kit's pages, up to one call per 1,000 subscribers, stopping at the first
   * holder. That walk reads Kit afresh rather than a cached list walk: a cache would answer "free" for a name
   * created since by a write it did not see.
   */
  async userNameHolders(userName: string): Promise<Subscriber[]> {
    const key = identityKey(userName);
    const parts = userPartsOf(['userName']);
    const holds = (s: Subscriber) => {
      if (isDeleted(s, this.deps.fields)) return false;
      const name = filterView(s, this.deps.fields, parts).userName;
      return typeof name === 'string' && identityKey(name) === key;
    };
    const mirror = this.deps.mirror;
    if (mirror && (await mirror.forFilters())) {
      const found = await mirror.byUserName(key).catch(() => null);
      // The index is never trusted alone: the record must still carry the name (null: the store failed).
      if (found !== null) return found && holds(found) ? this.deps.known([found]) : [];
    }
    const slices = yieldEvery();
    let after: string | null = null;
    for (;;) {
      const page = await this.deps.kit.subscribers.list(
        { status: 'all', sort_field: 'id', sort_order: 'asc' },
        { after, perPage: 1000 },
        { priority: 'background' },
      );
      await slices.pace();
      const found = page.items.filter(holds);
      if (found.length) return this.deps.known(found);
      if (!page.pagination.has_next_page || !page.pagination.end_cursor) return [];
      after = page.pagination.end_cursor;
    }
  }

  /**
   * Whether a list walk reads the mirror's pages. A filter Kit cannot narrow (externalId, displayName,
   * groups.value, enterprise attributes, sw/co/ew) would read every Kit page anyway: any number of them share
   * one walk of the mirror, walked first when it is a lookup mirror. A walk Kit narrows (active,
   * dates) or an unfiltered one uses the mirror only while it is complete.
   */
  private async mirrorAnswers(query: ListQuery): Promise<boolean | undefined> {
    const mirror = this.deps.mirror;
    if (!mirror) return false;
    if (query.filter && this.narrowsNothing(this.pushdown(query))) return mirror.forFilters();
    return mirror.complete();
  }

  /** Kit's part of the query is the whole account (no state or date bounds): Kit filters nothing. */
  private narrowsNothing(q: SubscriberQuery): boolean {
    return (
      q.status === 'all' &&
      q.created_after === undefined &&
      q.created_before === undefined &&
      q.updated_after === undefined
    );
  }

  private walkSource(
    query: ListQuery,
    groups?: { generation: number; of(id: number): GroupRef[] },
    fromMirror = false,
  ): WalkSource<Subscriber> {
    const kitQuery = this.pushdown(query);
    const listed = this.listedBy(query);
    const rowCost = query.filterTerms ?? 0;
    const kit = this.deps.kit;
    const membership = this.deps.groups;
    const mirror = this.deps.mirror;
    if (fromMirror && mirror) {
      // The same walk over the mirror's pages (by id, 1,000 each): the visibility rule decides every row, so
      // Kit's pushed-down conditions are not needed; the walk counts its total itself.
      return {
        fingerprint: `users:mirror:${kitQuery.sort_order}:${query.filterText ?? ''}:${groups ? `g${groups.generation}` : ''}`,
        fetch: async (after, includeTotalCount, slices = yieldEvery()) => {
          const page = await mirror.page(after === null ? null : Number(after), kitQuery.sort_order ?? 'asc', slices);
          return {
            items: await this.knownInSlices(page.items, slices),
            next: page.next === null ? null : String(page.next),
            // The rows a filtered walk will decide, so a filter over budget is refused before it starts.
            totalCount: includeTotalCount ? await mirror.size() : undefined,
          };
        },
        visible: (s) => listed(s, groups?.of(s.id)),
        rowCost,
      };
    }
    return {
      // A filter on groups depends on memberships too: the walk is only reused while they are unchanged.
      fingerprint: `users:${JSON.stringify(kitQuery)}:${query.filterText ?? ''}:${groups ? `g${groups.generation}` : ''}`,
      fetch: async (after, includeTotalCount, slices = yieldEvery(), perPage = 1000) => {
        const page = await kit.subscribers.list(
          kitQuery,
          { after, perPage, includeTotalCount },
          { priority: 'background' },
        );
        return {
          items: await this.knownInSlices(page.items, slices),
          next: page.pagination.has_next_page ? page.pagination.end_cursor : null,
          totalCount: page.totalCount,
        };
      },
      visible: (s) => listed(s, groups?.of(s.id)),
      rowCost,
      // Without a residual filter the total is Kit's count less the tombstoned (deleted) subscribers.
      totalFromKit: query.filter
        ? undefined
        : async (kitTotal) =>
            kitQuery.status === 'active'
              ? kitTotal
              : kitTotal - (await membership.deletedCount({ priority: 'background' })),
    };
  }

  /**
   * A page with the journal's knowledge folded in (`known`), once the walk's slice of time allows: the overlay
   * of 1,000 rows is one piece (~1 ms), and cutting it smaller would cost a Redis journal a round trip a piece.
   */
  private async knownInSlices(subs: Subscriber[], slices: TimeSlices): Promise<Subscriber[]> {
    await slices.pace();
    return this.deps.known(subs);
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
