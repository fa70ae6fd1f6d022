import { ScimBadRequest } from './errors';
import { attributePaths, type FilterNode, FilterSyntaxError, parseFilterTree, termCount, toDnf } from './filterSyntax';
import { MAX_FILTER_TERMS } from './inputLimits';

// RFC 7644 §3.4.2.2 filters. src/scim/filterSyntax.ts reads the full grammar (within the budgets of
// src/scim/inputLimits.ts) into a tree. The tree is compiled once into a predicate (compileFilter) that decides
// every row; its disjunctive normal form (an array of OR'd terms, each an AND of attribute expressions) tells
// what can be pushed down to Kit (equalityValues, dateBounds). We evaluate filters ourselves because scimmy's
// matcher compares strings case-sensitively, and SCIM says userName, emails and most strings are
// case-insensitive.

export type Dnf = Array<Record<string, unknown>>;

/** Whether one resource (a SCIM User or Group as plain JSON) matches a filter. */
export type FilterPredicate = (resource: unknown) => boolean;

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
  /** OR'd terms once multiplied out (at most MAX_FILTER_TERMS): what a row costs against the scan budget. */
  terms: number;
  /** The compiled filter. */
  matches: FilterPredicate;
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
    return { dnf: toDnf(tree), attributes, terms, matches: compileFilter(tree) };
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
  // key in lower case (a filtered walk evaluates this for every attribute of 1,000 users per page).
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

const isPresent = (v: unknown) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);

const DATE_OPERATORS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

/**
 * One comparison with its literal prepared once (lower-cased, parsed as a date): a test of one attribute value.
 * A multi-valued attribute matches when any of its values does (complex values compare on "value").
 */
function comparator(op: string, expected: unknown, caseExact: boolean): (actual: unknown) => boolean {
  if (op === 'pr') return isPresent;
  if (op === 'np') return (actual) => !isPresent(actual);
  // Entra ID sends booleans as strings ("False").
  const wantBoolean = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
  const expectedDate =
    typeof expected === 'string' && isIsoDate(expected) && DATE_OPERATORS.has(op) ? Date.parse(expected) : Number.NaN;
  const b: unknown = typeof expected === 'string' && !caseExact ? expected.toLowerCase() : expected;
  const bText = String(b);
  const expectedText = String(expected);
  const one = (actual: unknown): boolean => {
    if (Array.isArray(actual)) return actual.some((v) => one(isPlainObject(v) ? v.value : v));
    if (actual === undefined || actual === null) return false;
    if (typeof actual === 'boolean') {
      if (op === 'eq') return actual === wantBoolean;
      if (op === 'ne') return actual !== wantBoolean;
      return false;
    }
    if (!Number.isNaN(expectedDate) && typeof actual === 'string' && isIsoDate(actual)) {
      const at = Date.parse(actual);
      if (!Number.isNaN(at)) {
        return {
          eq: at === expectedDate,
          ne: at !== expectedDate,
          gt: at > expectedDate,
          ge: at >= expectedDate,
          lt: at < expectedDate,
          le: at <= expectedDate,
        }[op as 'eq'];
      }
    }
    const a = typeof actual === 'number' ? actual : caseExact ? String(actual) : String(actual).toLowerCase();
    // Ordered comparisons only between values of one type (both strings or both numbers).
    const same = typeof a === typeof b;
    const other = b as typeof a;
    switch (op) {
      case 'eq':
        return a === b || (typeof actual === 'number' && String(actual) === expectedText);
      case 'ne':
        return !(a === b || (typeof actual === 'number' && String(actual) === expectedText));
      case 'co':
        return String(a).includes(bText);
      case 'sw':
        return String(a).startsWith(bText);
      case 'ew':
        return String(a).endsWith(bText);
      case 'gt':
        return same && a > other;
      case 'ge':
        return same && a >= other;
      case 'lt':
        return same && a < other;
      case 'le':
        return same && a <= other;
      default:
        return false;
    }
  };
  return one;
}

/** Keys as our resources spell them: SCIM names start lower-case, so `UserName` finds `userName` directly. */
const keyOf = (name: string) => `${name[0].toLowerCase()}${name.slice(1)}`;

/** `name.givenName` → ["name", "givenName"]; `<URN>:manager.value` → ["<URN>", "manager", "value"]. */
function segmentsOf(path: string): string[] {
  if (!path.toLowerCase().startsWith('urn:')) return path.split('.').map(keyOf);
  const cut = path.lastIndexOf(':');
  return [
    path.slice(0, cut),
    ...path
      .slice(cut + 1)
      .split('.')
      .map(keyOf),
  ];
}

/**
 * A test on the values under `segments`: through a multi-valued attribute on the way down (`emails.value`,
 * `groups[...]`) it holds when it holds for any of the values.
 */
function atPath(segments: string[], test: (value: unknown) => boolean): (resource: unknown) => boolean {
  const [head, ...rest] = segments;
  const lower = head.toLowerCase();
  const read = (resource: unknown): unknown => {
    if (!isPlainObject(resource)) return undefined;
    if (Object.prototype.hasOwnProperty.call(resource, head)) return resource[head];
    const key = Object.keys(resource).find((k) => k.toLowerCase() === lower);
    return key === undefined ? undefined : resource[key];
  };
  if (rest.length === 0) return (resource) => test(read(resource));
  const below = atPath(rest, test);
  return (resource) => {
    const value = read(resource);
    return Array.isArray(value) ? value.some(below) : below(value ?? {});
  };
}

function compileNode(node: FilterNode, prefix: string): FilterPredicate {
  switch (node.kind) {
    case 'compare': {
      const path = prefix ? `${prefix}.${node.path}` : node.path;
      const test = comparator(node.op, node.value, CASE_EXACT.has(path.toLowerCase()));
      return atPath(segmentsOf(node.path), test);
    }
    case 'not': {
      const inner = compileNode(node.item, prefix);
      return (resource) => !inner(resource);
    }
    case 'and': {
      const items = node.items.map((i) => compileNode(i, prefix));
      return (resource) => items.every((item) => item(resource));
    }
    case 'or': {
      const items = node.items.map((i) => compileNode(i, prefix));
      return (resource) => items.some((item) => item(resource));
    }
    case 'valuePath': {
      // emails[type eq "work" and value co "x"]: one and the same value satisfies the whole bracket.
      const inner = compileNode(node.filter, node.attribute);
      return atPath(segmentsOf(node.attribute), (value) =>
        Array.isArray(value) ? value.some(inner) : inner(value ?? {}),
      );
    }
  }
}

/**
 * The filter as one predicate, built once per request: a closure per node of the parse tree, with every literal
 * prepared. Evaluating the tree rather than its disjunctive normal form makes a row cost its comparisons (at
 * most MAX_FILTER_COMPARISONS), never its terms: `(a or b) and …` eight times is 16 comparisons, not 256 terms.
 */
export function compileFilter(tree: FilterNode): FilterPredicate {
  return compileNode(tree, '');
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
