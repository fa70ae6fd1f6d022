import { ScimBadRequest } from './errors';
import { type Dnf, type FilterPredicate, readFilter } from './filter';
import { quoteInput } from './inputLimits';
import { type AttributeDeclarations, attributeFilter, plainAttributeList } from './schemas';

// RFC 7644 §3.4.2: filter, sortBy/sortOrder, startIndex/count (1-based), attributes/excludedAttributes.

export const DEFAULT_COUNT = 100;
export const MAX_COUNT = 1000;

export interface ListQuery {
  /** The filter's disjunctive normal form: what can be pushed down to Kit. */
  filter?: Dnf;
  /** The filter compiled once: what decides every row. */
  matches?: FilterPredicate;
  /** The filter's OR'd terms: what one row costs against the scan budget. */
  filterTerms?: number;
  filterText?: string;
  /** The attribute paths the filter compares, as the filter's tree names them. */
  filterAttributes?: string[];
  startIndex: number;
  count: number;
  /** RFC 9865: present (an empty string for the first page) when the client pages by cursor, not by index. */
  cursor?: string;
  sortBy?: string;
  sortOrder: 'ascending' | 'descending';
  attributes?: string;
  excludedAttributes?: string;
}

/**
 * One parameter, from a query string (strings) or a POST /.search body (RFC 7644 §3.4.3: integers for
 * startIndex/count, arrays of strings for attributes/excludedAttributes).
 */
function single(params: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(params).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : params[key];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (LIST_VALUED.has(name) && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.join(',');
  }
  if (typeof value !== 'string') throw new ScimBadRequest('invalidValue', `The ${name} parameter must be given once.`);
  return value;
}

const LIST_VALUED = new Set(['attributes', 'excludedAttributes']);

function integer(params: Record<string, unknown>, name: string): number | undefined {
  const raw = single(params, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^-?\d+$/.test(raw.trim()))
    throw new ScimBadRequest('invalidValue', `${name} must be an integer, got ${quoteInput(raw)}.`);
  // A 400-digit number is Infinity to JavaScript (and null in JSON): the callers see it as out of range.
  return Number(raw);
}

/**
 * The largest startIndex answered: far beyond any Kit account, and an exact integer. RFC 7644 §3.4.2.4 reads
 * startIndex < 1 as 1 and a startIndex past the end as an empty page; a number no integer arithmetic can hold
 * (say, 400 digits) is refused rather than silently rounded.
 */
export const MAX_START_INDEX = Number.MAX_SAFE_INTEGER;

/**
 * Whether the query's filter compares the top-level attribute `name` (or a sub-attribute of it, in any
 * spelling: "groups.value", "groups[display co \"x\"]", the schema-qualified URN form). Read from the parsed
 * filter, so a value that merely contains the word (`displayName co "groups"`) does not count.
 */
export function filterReads(query: Pick<ListQuery, 'filterAttributes'>, name: string): boolean {
  const wanted = name.toLowerCase();
  return (query.filterAttributes ?? []).some((path) => {
    const lower = path.toLowerCase();
    // "urn:…:User:groups.value": the attribute follows the schema URN's last colon.
    const unqualified = lower.startsWith('urn:') ? lower.slice(lower.lastIndexOf(':') + 1) : lower;
    return unqualified.split('.')[0] === wanted;
  });
}

/** startIndex and count of a query (RFC 7644 §3.4.2.4), within this server's bounds. */
export function pagingOf(params: Record<string, unknown>): { startIndex: number; count: number } {
  // startIndex < 1 is read as 1, a negative count as 0, a count above the maximum as it.
  const requestedStart = integer(params, 'startIndex') ?? 1;
  if (requestedStart > MAX_START_INDEX) {
    throw new ScimBadRequest('invalidValue', `startIndex must be at most ${MAX_START_INDEX}.`);
  }
  return {
    startIndex: Math.max(1, requestedStart),
    count: Math.min(MAX_COUNT, Math.max(0, integer(params, 'count') ?? DEFAULT_COUNT)),
  };
}

/**
 * RFC 9865 §2.1: on a cursor request a count above maxPageSize is 400 `invalidCount`, not read as the maximum
 * (index paging keeps RFC 7644 §3.4.2.4's reading); a negative count is 0 there too (RFC 9865 §2).
 */
function cursorCount(params: Record<string, unknown>): void {
  const raw = single(params, 'count')?.trim();
  if (raw === undefined || raw === '') return;
  if (!/^-?\d+$/.test(raw) || Number(raw) > MAX_COUNT) {
    throw new ScimBadRequest(
      'invalidCount',
      `count must be an integer of at most ${MAX_COUNT} (maxPageSize) on a cursor request, got ${quoteInput(raw)}.`,
    );
  }
}

export function parseListQuery(
  params: Record<string, unknown>,
  sortable: readonly string[],
  /** The resource type's schema (the mapping's, for Users): a filter on what it does not declare is refused. */
  schema?: AttributeDeclarations,
): ListQuery {
  const filterText = single(params, 'filter');
  const isAttribute = schema && ((path: string) => schema.attribute(path) !== undefined);
  const parsed = filterText !== undefined ? readFilter(filterText, isAttribute) : undefined;
  const cursor = single(params, 'cursor');
  if (cursor !== undefined && integer(params, 'startIndex') !== undefined) {
    throw new ScimBadRequest('invalidValue', 'Page by cursor or by startIndex, not both in one request.');
  }
  if (cursor !== undefined) cursorCount(params);
  const { startIndex, count } = pagingOf(params);
  const sortBy = single(params, 'sortBy');
  if (sortBy !== undefined && !sortable.some((s) => s.toLowerCase() === sortBy.toLowerCase())) {
    // Kit lists in its own order and an arbitrary order would mean reading every row before the first page:
    // ServiceProviderConfig says sort.supported false, and only the orders Kit keeps are accepted.
    throw new ScimBadRequest(
      'invalidValue',
      `sortBy ${quoteInput(sortBy)} is not supported: this server does not sort (ServiceProviderConfig sort.supported is false); results come in Kit's order, which sortBy may name as ${sortable.join(' or ')}.`,
    );
  }
  const order = single(params, 'sortOrder');
  const attributes = plainAttributeList('attributes', single(params, 'attributes'));
  const excludedAttributes = plainAttributeList('excludedAttributes', single(params, 'excludedAttributes'));
  // Checked now, before any Kit call, though the list is applied when the answer is rendered.
  attributeFilter(attributes, excludedAttributes);
  if (order !== undefined && !['ascending', 'descending'].includes(order.toLowerCase())) {
    throw new ScimBadRequest('invalidValue', 'sortOrder must be "ascending" or "descending".');
  }
  return {
    filter: parsed?.dnf,
    matches: parsed?.matches,
    filterTerms: parsed?.terms,
    filterText,
    filterAttributes: parsed?.attributes,
    startIndex,
    count,
    cursor: cursor?.trim(),
    sortBy: sortBy && sortable.find((s) => s.toLowerCase() === sortBy.toLowerCase()),
    sortOrder: order?.toLowerCase() === 'descending' ? 'descending' : 'ascending',
    attributes,
    excludedAttributes,
  };
}
