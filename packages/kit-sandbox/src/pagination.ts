import { type CursorPayload, decodeCursor, encodeCursor } from './cursor';
import { type KeyedSequence, lowerBound, upperBound } from './keyedSequence';
import { unprocessable } from './rejection';

// Kit's cursor pagination: `after` = the previous page's end_cursor, `before` = its start_cursor, per_page
// defaults to 500 and cannot exceed 1000, include_total_count=true adds a total. Every list endpoint pages
// through here.

export const DEFAULT_PER_PAGE = 500;
export const MAX_PER_PAGE = 1000;

export type SortOrder = 'asc' | 'desc';

export interface PageParams {
  perPage: number;
  after: CursorPayload | null;
  before: CursorPayload | null;
  includeTotalCount: boolean;
}

export interface KitPagination {
  has_previous_page: boolean;
  has_next_page: boolean;
  start_cursor: string | null;
  end_cursor: string | null;
  per_page: number;
  total_count?: number;
}

/**
 * per_page above Kit's maximum is clamped to 1000 (the page then reports per_page 1000) rather than refused;
 * anything that is not a whole number of at least 1 is a 422.
 */
export function parsePageParams(query: URLSearchParams): PageParams {
  const rawPerPage = query.get('per_page');
  let perPage = DEFAULT_PER_PAGE;
  if (rawPerPage !== null && rawPerPage !== '') {
    if (!/^\d+$/.test(rawPerPage.trim()) || Number(rawPerPage) < 1) {
      throw unprocessable('per_page must be a whole number greater than 0');
    }
    perPage = Math.min(Number(rawPerPage), MAX_PER_PAGE);
  }
  const cursor = (name: 'after' | 'before'): CursorPayload | null => {
    const raw = query.get(name);
    if (raw === null || raw === '') return null;
    const decoded = decodeCursor(raw);
    if (!decoded) throw unprocessable(`${name} is not a valid cursor`);
    return decoded;
  };
  return {
    perPage,
    after: cursor('after'),
    before: cursor('before'),
    includeTotalCount: query.get('include_total_count') === 'true',
  };
}

/** How one list turns its entries into cursors and back. */
export interface CursorCodec<T> {
  cursorOf(item: T, key: number): CursorPayload;
  /** The sequence key a cursor points at; null when the cursor belongs to another list or sort. */
  keyOf(cursor: CursorPayload): number | null;
}

/** Cursors that are just the key: `[id]`, as Kit's id-sorted lists print them. */
export const idCursors: CursorCodec<unknown> = {
  cursorOf: (_item, key) => [key],
  keyOf: (c) => (c.length === 1 && typeof c[0] === 'number' ? c[0] : null),
};

export interface Page<T> {
  items: T[];
  pagination: KitPagination;
}

export interface PageQuery<T> {
  sequence: KeyedSequence<T>;
  codec: NoInfer<CursorCodec<T>>;
  order: SortOrder;
  params: PageParams;
  matches: NoInfer<(item: T) => boolean>;
  /** A cheaper total than scanning, when the caller knows it (e.g. counts by state). */
  total?: () => number;
}

/**
 * Keyset pagination over a sequence: the cursor names the last key seen, so rows inserted or moved elsewhere
 * never shift a page. Work per page is the page plus the entries skipped by the filter.
 */
export function pageOf<T>(q: PageQuery<T>): Page<T> {
  const { sequence: seq, params, matches } = q;
  const step = q.order === 'asc' ? 1 : -1;
  const n = seq.length;
  const inRange = (i: number) => i >= 0 && i < n;
  const matchAt = (i: number): T | undefined => {
    const item = seq.item(i);
    return item !== undefined && matches(item) ? item : undefined;
  };
  const anyFrom = (start: number, dir: number): boolean => {
    for (let i = start; inRange(i); i += dir) if (matchAt(i) !== undefined) return true;
    return false;
  };
  const keyOf = (cursor: CursorPayload, name: string): number => {
    const key = q.codec.keyOf(cursor);
    if (key === null) throw unprocessable(`${name} is not a valid cursor for this list`);
    return key;
  };

  const picked: Array<{ item: T; key: number }> = [];
  let hasPrevious = false;
  let hasNext = false;

  if (params.before && !params.after) {
    const key = keyOf(params.before, 'before');
    // Entries that come before `key` in the page order, walked backwards from the cursor.
    const first = step === 1 ? lowerBound(seq, key) - 1 : upperBound(seq, key);
    let i = first;
    for (; inRange(i) && picked.length < params.perPage; i -= step) {
      const item = matchAt(i);
      if (item !== undefined) picked.push({ item, key: seq.key(i) });
    }
    picked.reverse();
    hasPrevious = anyFrom(i, -step);
    hasNext = anyFrom(first + step, step);
  } else {
    let start = step === 1 ? 0 : n - 1;
    if (params.after) {
      const key = keyOf(params.after, 'after');
      start = step === 1 ? upperBound(seq, key) : lowerBound(seq, key) - 1;
      hasPrevious = anyFrom(start - step, -step);
    }
    let i = start;
    for (; inRange(i) && picked.length < params.perPage; i += step) {
      const item = matchAt(i);
      if (item !== undefined) picked.push({ item, key: seq.key(i) });
    }
    hasNext = anyFrom(i, step);
  }

  const first = picked[0];
  const last = picked[picked.length - 1];
  const pagination: KitPagination = {
    has_previous_page: hasPrevious,
    has_next_page: hasNext,
    start_cursor: first ? encodeCursor(q.codec.cursorOf(first.item, first.key)) : null,
    end_cursor: last ? encodeCursor(q.codec.cursorOf(last.item, last.key)) : null,
    per_page: params.perPage,
  };
  if (params.includeTotalCount) pagination.total_count = q.total ? q.total() : countMatching(seq, matches);
  return { items: picked.map((p) => p.item), pagination };
}

function countMatching<T>(seq: KeyedSequence<T>, matches: (item: T) => boolean): number {
  let count = 0;
  for (let i = 0; i < seq.length; i++) {
    const item = seq.item(i);
    if (item !== undefined && matches(item)) count++;
  }
  return count;
}
