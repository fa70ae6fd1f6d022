import SCIMMY from 'scimmy';
import { ScimBadRequest } from './errors';

// RFC 7644 §3.4.2.2 filters. scimmy parses the full grammar into disjunctive normal form (an array of OR'd
// terms, each an AND of attribute expressions); we evaluate that form ourselves because scimmy's matcher
// compares strings case-sensitively, and SCIM says userName, emails and most strings are case-insensitive.

export type Dnf = Array<Record<string, unknown>>;

/** Attributes whose comparisons are case-exact (RFC 7643 §4.1, §3.1). Everything else compares case-insensitively. */
const CASE_EXACT = new Set(['id', 'externalid', 'members.value', 'groups.value']);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

const COMPARATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le', 'pr', 'np']);
const ATTRIBUTE = /^(urn:[\w.:-]+:)?[A-Za-z][\w$-]*$/;

/** scimmy's parser is lenient ("userName eq" parses); the parsed form is checked against the ABNF here. */
function validate(node: unknown, where: string): void {
  if (isPlainObject(node)) {
    for (const [attr, expr] of Object.entries(node)) {
      if (!ATTRIBUTE.test(attr)) throw new Error(`"${attr}" is not an attribute name`);
      validate(expr, attr);
    }
    return;
  }
  if (!Array.isArray(node) || node.length === 0) throw new Error(`incomplete expression on "${where}"`);
  if (node.every((e) => Array.isArray(e) || isPlainObject(e))) {
    for (const e of node) validate(e, where);
    return;
  }
  const parts = String(node[0]).toLowerCase() === 'not' ? node.slice(1) : node;
  const op = String(parts[0]).toLowerCase();
  if (!COMPARATORS.has(op)) throw new Error(`"${String(parts[0])}" is not a comparison operator`);
  if (op !== 'pr' && op !== 'np' && parts.length < 2) throw new Error(`"${where} ${op}" needs a value`);
}

export function parseFilter(expression: string): Dnf {
  try {
    if (/\b(and|or|not)\s*$/i.test(expression.trim())) throw new Error('the filter ends with an operator');
    const dnf: Dnf = JSON.parse(JSON.stringify(new SCIMMY.Types.Filter(expression)));
    for (const term of dnf) validate(term, '');
    return dnf;
  } catch (err) {
    throw new ScimBadRequest('invalidFilter', `Invalid filter: ${(err as Error).message}`, err);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lookup(obj: unknown, attr: string): unknown {
  if (!isPlainObject(obj)) return undefined;
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
  if (typeof expected === 'string' && typeof actual === 'string' && ISO_DATE.test(actual) && ISO_DATE.test(expected)) {
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
    return expr.some((e) => matchAttribute(resource, attr, e, path));
  }
  const expressions = (Array.isArray(expr) && Array.isArray(expr[0]) ? expr : [expr]) as unknown[][];
  return expressions.every((e) => matchExpression(actual, e, path));
}

function matchTerm(resource: unknown, term: Record<string, unknown>, prefix = ''): boolean {
  return Object.entries(term).every(([attr, expr]) =>
    matchAttribute(resource, attr, expr, prefix ? `${prefix}.${attr}` : attr),
  );
}

export function matchesFilter(resource: Record<string, unknown>, dnf: Dnf): boolean {
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
    const at = typeof expr[1] === 'string' && ISO_DATE.test(expr[1]) ? Date.parse(expr[1]) : Number.NaN;
    if (Number.isNaN(at)) continue;
    if (op === 'gt' || op === 'ge' || op === 'eq') bounds.from = Math.max(bounds.from ?? at, at);
    if (op === 'lt' || op === 'le' || op === 'eq') bounds.to = Math.min(bounds.to ?? at, at);
  }
  return bounds.from === undefined && bounds.to === undefined ? undefined : bounds;
}
