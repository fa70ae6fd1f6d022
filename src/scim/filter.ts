import { ScimBadRequest } from './errors';
import { attributePaths, FilterSyntaxError, parseFilterTree, termCount, toDnf } from './filterSyntax';
import { MAX_FILTER_TERMS } from './inputLimits';

// RFC 7644 §3.4.2.2 filters. src/scim/filterSyntax.ts reads the full grammar (within the budgets of
// src/scim/inputLimits.ts) into disjunctive normal form: an array of OR'd terms, each an AND of attribute
// expressions, in the shape scimmy used to produce. We evaluate that form ourselves because scimmy's matcher
// compares strings case-sensitively, and SCIM says userName, emails and most strings are case-insensitive.

export type Dnf = Array<Record<string, unknown>>;

/** Attributes whose comparisons are case-exact (RFC 7643 §4.1, §3.1). Everything else compares case-insensitively. */
const CASE_EXACT = new Set(['id', 'externalid', 'members.value', 'groups.value']);

/** Longest text compared as a date: an ISO 8601 stamp with a fraction and offset is about 35 characters. */
const MAX_DATE_LENGTH = 40;
const ISO_DATE_SHAPE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const isIsoDate = (v: string) => v.length <= MAX_DATE_LENGTH && ISO_DATE_SHAPE.test(v);

/**
 * Parses a filter. With `isAttribute` (the resource type's schema), a comparison on an attribute the resource
 * does not have is refused by name rather than answered with an empty list that looks like "no such user".
 */
export function parseFilter(expression: string, isAttribute?: (path: string) => boolean): Dnf {
  return readFilter(expression, isAttribute).dnf;
}

/** A parsed filter and the attribute paths it compares ("emails.value", "groups.value"…), from its tree. */
export interface ParsedFilter {
  dnf: Dnf;
  attributes: string[];
}

/** Like parseFilter, also naming the attributes the filter reads, so callers fetch only what it needs. */
export function readFilter(expression: string, isAttribute?: (path: string) => boolean): ParsedFilter {
  try {
    const tree = parseFilterTree(expression);
    const terms = termCount(tree);
    if (terms > MAX_FILTER_TERMS) {
      throw new FilterSyntaxError(
        `it expands to more than ${MAX_FILTER_TERMS} OR'd terms (every AND of ORs multiplies); simplify it or split the query`,
      );
    }
    const attributes = attributePaths(tree);
    if (isAttribute) {
      const unknown = attributes.find((p) => !isAttribute(p));
      if (unknown !== undefined) throw new FilterSyntaxError(`"${unknown}" is not an attribute of this resource type`);
    }
    return { dnf: toDnf(tree), attributes };
  } catch (err) {
    if (err instanceof FilterSyntaxError)
      throw new ScimBadRequest('invalidFilter', `Invalid filter: ${err.message}.`, err);
    throw err;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lookup(obj: unknown, attr: string): unknown {
  if (!isPlainObject(obj)) return undefined;
  // Our resources use the schema's spelling and filters mostly do too: an exact own key needs no scan of every
  // key in lower case (issue #14: a filtered walk evaluates this for every attribute of 1,000 users per page).
  if (Object.prototype.hasOwnProperty.call(obj, attr)) return obj[attr];
  const lower = attr.toLowerCase();
  // Extension attributes arrive as "<schema URN>:<attribute>" (RFC 7644 §3.10).
  if (lower.startsWith('urn:') && !Object.keys(obj).some((k) => k.toLowerCase() === lower)) {
    const cut = attr.lastIndexOf(':');
    return lookup(lookup(obj, attr.slice(0, cut)), attr.slice(cut + 1));
  }
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function compare(actual: unknown, op: string, expected: unknown, caseExact: boolean): boolean {
  if (op === 'pr')
    return actual !== undefined && actual !== null && actual !== '' && !(Array.isArray(actual) && !actual.length);
  if (Array.isArray(actual)) {
    // A multi-valued attribute matches when any of its values does (complex values compare on "value").
    return actual.some((v) => compare(isPlainObject(v) ? v.value : v, op, expected, caseExact));
  }
  if (actual === undefined || actual === null) return false;
  if (typeof actual === 'boolean') {
    // Entra ID sends booleans as strings ("False").
    const want = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
    if (op === 'eq') return actual === want;
    if (op === 'ne') return actual !== want;
    return false;
  }
  if (typeof expected === 'string' && typeof actual === 'string' && isIsoDate(actual) && isIsoDate(expected)) {
    const a = Date.parse(actual);
    const b = Date.parse(expected);
    if (!Number.isNaN(a) && !Number.isNaN(b) && ['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op)) {
      return { eq: a === b, ne: a !== b, gt: a > b, ge: a >= b, lt: a < b, le: a <= b }[op as 'eq'];
    }
  }
  const norm = (v: unknown) => (typeof v === 'string' && !caseExact ? v.toLowerCase() : v);
  const a = norm(typeof actual === 'number' ? actual : String(actual)) as any;
  const b = norm(expected) as any;
  switch (op) {
    case 'eq':
      return a === b || (typeof actual === 'number' && String(actual) === String(expected));
    case 'ne':
      return !(a === b || (typeof actual === 'number' && String(actual) === String(expected)));
    case 'co':
      return String(a).includes(String(b));
    case 'sw':
      return String(a).startsWith(String(b));
    case 'ew':
      return String(a).endsWith(String(b));
    case 'gt':
      return typeof a === typeof b && a > b;
    case 'ge':
      return typeof a === typeof b && a >= b;
    case 'lt':
      return typeof a === typeof b && a < b;
    case 'le':
      return typeof a === typeof b && a <= b;
    default:
      return false;
  }
}

function matchExpression(actual: unknown, expr: unknown[], path: string): boolean {
  const negate = String(expr[0]).toLowerCase() === 'not';
  const [op, expected] = (negate ? expr.slice(1) : expr) as [string, unknown];
  const lowerOp = op.toLowerCase();
  const result =
    lowerOp === 'np'
      ? !compare(actual, 'pr', undefined, false)
      : compare(actual, lowerOp, expected, CASE_EXACT.has(path.toLowerCase()));
  return negate ? !result : result;
}

function matchAttribute(resource: unknown, attr: string, expr: unknown, path: string): boolean {
  const actual = lookup(resource, attr);
  if (isPlainObject(expr)) {
    // Complex attribute filter (emails[type eq "work"]) or sub-attribute path (name.familyName).
    if (Array.isArray(actual)) return actual.some((item) => matchTerm(item, expr, path));
    return matchTerm(actual ?? {}, expr, path);
  }
  if (Array.isArray(expr) && expr.some(isPlainObject)) {
    // Conditions on one attribute are ANDed, whether expressions or complex filters.
    return expr.every((e) => matchAttribute(resource, attr, e, path));
  }
  const expressions = (Array.isArray(expr) && Array.isArray(expr[0]) ? expr : [expr]) as unknown[][];
  return expressions.every((e) => matchExpression(actual, e, path));
}

function matchTerm(resource: unknown, term: Record<string, unknown>, prefix = ''): boolean {
  return Object.entries(term).every(([attr, expr]) =>
    matchAttribute(resource, attr, expr, prefix ? `${prefix}.${attr}` : attr),
  );
}

export function matchesFilter(resource: object, dnf: Dnf): boolean {
  return dnf.some((term) => matchTerm(resource, term));
}

/** `attr eq value` constraints that every disjunct carries, for pushdown to Kit. */
export function equalityValues(dnf: Dnf, path: string[]): Array<string | number | boolean> | undefined {
  const values: Array<string | number | boolean> = [];
  for (const term of dnf) {
    let node: unknown = term;
    for (const p of path) node = isPlainObject(node) ? lookup(node, p) : undefined;
    const exprs = Array.isArray(node) && Array.isArray(node[0]) ? node : [node];
    const eq = (exprs as unknown[][]).find((e) => Array.isArray(e) && String(e[0]).toLowerCase() === 'eq');
    if (!eq || !['string', 'number', 'boolean'].includes(typeof eq[1])) return undefined;
    values.push(eq[1] as string | number | boolean);
  }
  return values;
}

export interface DateBounds {
  /** Earliest instant a match can have (from gt/ge/eq). */
  from?: number;
  /** Latest instant a match can have (from lt/le/eq). */
  to?: number;
}

/**
 * Bounds on a date attribute implied by a filter with a single AND term (`meta.created ge "…" and …`), for
 * pushdown; undefined when the filter does not bound it on every path. The full filter still runs on the rows.
 */
export function dateBounds(dnf: Dnf, path: string[]): DateBounds | undefined {
  if (dnf.length !== 1) return undefined;
  let node: unknown = dnf[0];
  for (const p of path) node = isPlainObject(node) ? lookup(node, p) : undefined;
  if (!Array.isArray(node)) return undefined;
  const bounds: DateBounds = {};
  for (const expr of (Array.isArray(node[0]) ? node : [node]) as unknown[][]) {
    const op = String(expr[0]).toLowerCase();
    const at = typeof expr[1] === 'string' && isIsoDate(expr[1]) ? Date.parse(expr[1]) : Number.NaN;
    if (Number.isNaN(at)) continue;
    if (op === 'gt' || op === 'ge' || op === 'eq') bounds.from = Math.max(bounds.from ?? at, at);
    if (op === 'lt' || op === 'le' || op === 'eq') bounds.to = Math.min(bounds.to ?? at, at);
  }
  return bounds.from === undefined && bounds.to === undefined ? undefined : bounds;
}
