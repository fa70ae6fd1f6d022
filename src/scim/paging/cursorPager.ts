import type { PageStore } from './pageStore';
import { RowScan } from './rowScan';
import type { TimeSlices } from './timeSlices';

// SCIM pages (startIndex/count, 1-based) over Kit's cursor pages (after/per_page 1000). A walk remembers,
// per Kit page, the cursor that fetches it and how many of its rows are visible; a client walking the whole
// account page by page therefore costs one Kit call per 1,000 rows, never a walk from the start per page.

export interface KitPageFetch<T> {
  items: T[];
  next: string | null;
  totalCount?: number;
}

export interface WalkSource<T> {
  /** A stable description of the Kit query and the visibility rule: the walk's cache identity. */
  fingerprint: string;
  /** `slices`: the request's (timeSlices.ts), for the work of turning what was read into rows. */
  /** `perPage`: Kit's page size, 1,000 unless a cursor page asks for fewer (userListing.ts). */
  fetch(
    after: string | null,
    includeTotalCount: boolean,
    slices?: TimeSlices,
    perPage?: number,
  ): Promise<KitPageFetch<T>>;
  visible(item: T): boolean;
  /** What deciding one row costs against the scan budget: the filter's OR'd terms (0 or absent: nothing). */
  rowCost?: number;
  /**
   * Exact number of visible rows computed from Kit's total_count on the first page, when the visibility rule
   * allows it; undefined means the walk has to reach the end to know the total.
   */
  totalFromKit?(kitTotal: number): Promise<number | undefined>;
}

interface KitPageDescriptor {
  after: string | null;
  next: string | null;
  visible: number;
}

interface WalkState {
  pages: KitPageDescriptor[];
  done: boolean;
  total?: number;
}

export interface PagerOptions {
  ttlSeconds: number;
  /** Terms × rows one request's filtered scan may cost (FILTER_SCAN_BUDGET); past it the answer is 400 tooMany. */
  scanBudget?: number;
}

export interface WindowResult<T> {
  items: T[];
  totalResults: number;
}

export class CursorPager {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: PageStore,
    private readonly options: PagerOptions,
  ) {}

  /** Rows [startIndex, startIndex + count) of the walk, 1-based, plus the exact total. */
  async window<T>(source: WalkSource<T>, startIndex: number, count: number): Promise<WindowResult<T>> {
    const gen = await this.store.generation('users');
    const walkKey = `walk:${gen}:${source.fingerprint}`;
    // The store hands out read-only values (pageStore.ts): the walk's bookkeeping is extended on a copy.
    const cached = await this.store.get<WalkState>(walkKey);
    const state: WalkState = cached ? { ...cached, pages: [...cached.pages] } : { pages: [], done: false };
    const first = startIndex - 1;
    const end = first + count;
    const items: T[] = [];
    let seen = 0;
    let i = 0;
    let dirty = false;
    const scan = new RowScan({
      perRow: source.rowCost ?? 0,
      budget: this.options.scanBudget ?? Number.POSITIVE_INFINITY,
    });

    while (seen < end || state.total === undefined) {
      const needRows = seen < end && seen + (state.pages[i]?.visible ?? Number.POSITIVE_INFINITY) > first;
      let desc = state.pages[i];
      let rows: T[] | undefined;
      if (!desc) {
        if (state.done) break;
        const after = i === 0 ? null : state.pages[i - 1].next;
        const fetched = await this.fetchOnce(source, after, i === 0 && state.total === undefined, scan.slices);
        if (fetched.totalCount !== undefined) scan.expect(fetched.totalCount);
        rows = await scan.filter(fetched.items, (r) => source.visible(r));
        desc = { after, next: fetched.next, visible: rows.length };
        state.pages.push(desc);
        if (!fetched.next) state.done = true;
        if (i === 0 && fetched.totalCount !== undefined && source.totalFromKit) {
          state.total = await source.totalFromKit(fetched.totalCount);
        }
        await this.store.set(`${walkKey}:p${i}`, rows, this.options.ttlSeconds);
        dirty = true;
      } else if (needRows) {
        rows = await this.store.get<T[]>(`${walkKey}:p${i}`);
        if (!rows) {
          // Evicted: fetch that one Kit page again from its remembered cursor.
          const fetched = await this.fetchOnce(source, desc.after, false, scan.slices);
          rows = await scan.filter(fetched.items, (r) => source.visible(r));
          await this.store.set(`${walkKey}:p${i}`, rows, this.options.ttlSeconds);
        }
      }
      if (needRows && rows) {
        const from = Math.max(first - seen, 0);
        const to = Math.min(end - seen, rows.length);
        if (to > from) items.push(...rows.slice(from, to));
      }
      seen += desc.visible;
      i += 1;
      if (!desc.next) {
        state.done = true;
        break;
      }
      // Past the window with a known total: stop, the rest of the walk is fetched when asked for.
      if (seen >= end && state.total !== undefined) break;
      // A window that starts past a known total is empty: a startIndex of 10^15 costs no walk to the end.
      if (state.total !== undefined && first >= state.total) break;
    }
    if (state.done) {
      const all = state.pages.reduce((n, p) => n + p.visible, 0);
      if (state.total !== all) dirty = true;
      state.total = all;
    }
    if (dirty) await this.store.set(walkKey, state, this.options.ttlSeconds);
    return { items, totalResults: state.total ?? seen };
  }

  /** Concurrent requests for the same Kit page on this replica share one Kit call. */
  private fetchOnce<T>(
    source: WalkSource<T>,
    after: string | null,
    total: boolean,
    slices: TimeSlices,
  ): Promise<KitPageFetch<T>> {
    const key = `${source.fingerprint}|${after}|${total}`;
    let p = this.inflight.get(key) as Promise<KitPageFetch<T>> | undefined;
    if (!p) {
      p = source.fetch(after, total, slices).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}
