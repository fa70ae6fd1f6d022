import { ScimBadRequest } from './errors';
import { type Dnf, parseFilter } from './filter';

// RFC 7644 §3.4.2: filter, sortBy/sortOrder, startIndex/count (1-based), attributes/excludedAttributes.

export const DEFAULT_COUNT = 100;
export const MAX_COUNT = 1000;

export interface ListQuery {
  filter?: Dnf;
  filterText?: string;
  startIndex: number;
  count: number;
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
    throw new ScimBadRequest('invalidValue', `${name} must be an integer, got "${raw}".`);
  return Number(raw);
}

export function parseListQuery(params: Record<string, unknown>, sortable: readonly string[]): ListQuery {
  const filterText = single(params, 'filter');
  const filter = filterText !== undefined ? parseFilter(filterText) : undefined;
  // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1, a negative count as 0.
  const startIndex = Math.max(1, integer(params, 'startIndex') ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, integer(params, 'count') ?? DEFAULT_COUNT));
  const sortBy = single(params, 'sortBy');
  if (sortBy !== undefined && !sortable.some((s) => s.toLowerCase() === sortBy.toLowerCase())) {
    throw new ScimBadRequest('invalidValue', `sortBy supports ${sortable.join(', ')}; got "${sortBy}".`);
  }
  const order = single(params, 'sortOrder');
  if (order !== undefined && !['ascending', 'descending'].includes(order.toLowerCase())) {
    throw new ScimBadRequest('invalidValue', 'sortOrder must be "ascending" or "descending".');
  }
  return {
    filter,
    filterText,
    startIndex,
    count,
    sortBy: sortBy && sortable.find((s) => s.toLowerCase() === sortBy.toLowerCase()),
    sortOrder: order?.toLowerCase() === 'descending' ? 'descending' : 'ascending',
    attributes: single(params, 'attributes'),
    excludedAttributes: single(params, 'excludedAttributes'),
  };
}
