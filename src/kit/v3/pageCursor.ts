// Kit v3 lists are page-numbered (`page`, `total_pages`), never cursor-based. The port (KitApi) speaks cursors,
// so a v3 page number is carried as the cursor: "<segment>:<page>". A v3 walk over every state is two lists
// one after the other (active subscribers, then the unsubscribed through sort_field=cancelled_at), hence the
// segment. The SCIM page cache (src/scim/paging) keeps these cursors like v4's, in memory or in Redis.

export type Segment = 'a' | 'c';

export interface PageCursor {
  segment: Segment;
  page: number;
}

export function readCursor(after: string | null | undefined, first: Segment): PageCursor {
  const m = /^([ac]):(\d{1,9})$/.exec(after ?? '');
  return m ? { segment: m[1] as Segment, page: Math.max(1, Number(m[2])) } : { segment: first, page: 1 };
}

export function nextCursor(at: PageCursor, totalPages: number, segments: readonly Segment[]): string | null {
  if (at.page < totalPages) return `${at.segment}:${at.page + 1}`;
  const next = segments[segments.indexOf(at.segment) + 1];
  return next ? `${next}:1` : null;
}
