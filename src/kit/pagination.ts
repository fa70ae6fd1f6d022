import type { Page } from './types';

// Kit's cursor pagination (docs/kit/api.md "Pagination"): `after` = the previous page's end_cursor, up to 1000 per
// page, `include_total_count=true` adds pagination.total_count.

export const MAX_PER_PAGE = 1000;

/** Query parameters for one page; the adapter asks for Kit's maximum unless told otherwise. */
export function pageQuery(
  page: { after?: string | null; before?: string | null; perPage?: number; includeTotalCount?: boolean } = {},
): Record<string, string | number | undefined> {
  return {
    after: page.after ?? undefined,
    before: page.after ? undefined : (page.before ?? undefined),
    per_page: Math.min(MAX_PER_PAGE, Math.max(1, page.perPage ?? MAX_PER_PAGE)),
    include_total_count: page.includeTotalCount ? 'true' : undefined,
  };
}

/** Walks the pages, one Kit call each, until Kit says there is no next page. */
export async function* cursorPages<T>(
  fetchPage: (after: string | null) => Promise<Page<T>>,
  startAfter: string | null = null,
): AsyncGenerator<Page<T>> {
  let after = startAfter;
  for (;;) {
    const page = await fetchPage(after);
    yield page;
    const next = page.pagination.end_cursor;
    // A cursor that does not move would loop forever on a misbehaving server.
    if (!page.pagination.has_next_page || !next || next === after) return;
    after = next;
  }
}

export async function collectAll<T>(pages: AsyncIterable<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page.items);
  return all;
}
