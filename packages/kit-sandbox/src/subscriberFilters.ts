import { SUBSCRIBER_STATES, type SubscriberState } from './kitTypes';
import type { SortOrder } from './pagination';
import type { SubscriberRecord } from './records';
import { unprocessable } from './rejection';

// The query parameters Kit's subscriber lists take. Dates: Kit documents yyyy-mm-dd; we also take full ISO 8601.
// A range is inclusive-exclusive: `*_after=D` keeps rows at or after D (a bare date means 00:00:00Z that day),
// `*_before=D` keeps rows strictly before D. So `created_after=2024-03-01&created_before=2024-03-02` is exactly
// the 1st of March, UTC.

export type StatusFilter = SubscriberState | 'all';

export interface TimeRange {
  from?: number;
  until?: number;
}

export function parseStatus(query: URLSearchParams): StatusFilter {
  const raw = query.get('status');
  if (raw === null || raw === '') return 'active';
  if (raw === 'all' || (SUBSCRIBER_STATES as readonly string[]).includes(raw)) return raw as StatusFilter;
  throw unprocessable('The status param must be one of active, inactive, bounced, complained, cancelled or all');
}

export function parseSortOrder(query: URLSearchParams): SortOrder {
  const raw = query.get('sort_order');
  if (raw === null || raw === '' || raw === 'desc') return 'desc';
  if (raw === 'asc') return 'asc';
  throw unprocessable('The sort_order param must be asc or desc');
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export function parseKitDate(raw: string, name: string): number {
  const text = raw.trim();
  const day = DATE_ONLY.exec(text);
  let ms = Number.NaN;
  if (day) {
    ms = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    // Date.UTC rolls 2024-02-31 over into March; Kit would reject it.
    if (new Date(ms).toISOString().slice(0, 10) !== text) ms = Number.NaN;
  } else if (DATE_TIME.test(text)) {
    // A date-time without a zone is read as UTC, the zone Kit reports every date in.
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`;
    ms = Date.parse(zoned.replace(' ', 'T'));
  }
  if (Number.isNaN(ms)) throw unprocessable(`The ${name} param must be a date (yyyy-mm-dd) or an ISO 8601 date-time`);
  return ms;
}

export function parseRange(query: URLSearchParams, prefix: string): TimeRange | undefined {
  const after = query.get(`${prefix}_after`);
  const before = query.get(`${prefix}_before`);
  const range: TimeRange = {};
  if (after) range.from = parseKitDate(after, `${prefix}_after`);
  if (before) range.until = parseKitDate(before, `${prefix}_before`);
  return range.from === undefined && range.until === undefined ? undefined : range;
}

export const inRange = (ms: number, r: TimeRange | undefined): boolean =>
  !r || ((r.from === undefined || ms >= r.from) && (r.until === undefined || ms < r.until));

export interface SubscriberFilter {
  status: StatusFilter;
  created?: TimeRange;
  updated?: TimeRange;
}

export function subscriberMatcher(f: SubscriberFilter): (s: SubscriberRecord) => boolean {
  return (s) =>
    (f.status === 'all' || s.state === f.status) && inRange(s.createdAt, f.created) && inRange(s.updatedAt, f.updated);
}

/** True when the filter is only a status, so a total can come from the per-state counts. */
export const isStatusOnly = (f: SubscriberFilter): boolean => !f.created && !f.updated;
