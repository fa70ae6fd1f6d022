import {
  forbiddenSegmentOf,
  MAX_ATTRIBUTE_PATH_LENGTH,
  MAX_FILTER_COMPARISONS,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  MAX_FILTER_TERMS,
  quoteInput,
} from './inputLimits';

// Our own reader for RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths. scimmy 1.3.5's parser cannot be given
// client text safely: it writes attribute paths into objects by assignment (`name.__proto__.x` pollutes
// Object.prototype), multiplies every AND of ORs out before anything can stop it (16 pairs are 65,536 terms),
// backtracks on some strings, misreads nested parentheses and `not (a or b)`, and answers with its internals
// ("tokens[0]?.value.split is not a function"). This reader is one linear pass over text whose length is
// capped, its recursion is bounded by MAX_FILTER_DEPTH, and it counts terms on the tree before expanding.

/** A problem with the client's text; the callers turn it into the SCIM error that fits (invalidFilter, invalidPath). */
export class FilterSyntaxError extends Error {}

export type FilterNode =
  | { kind: 'compare'; path: string; op: string; value?: unknown }
  | { kind: 'and' | 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  | { kind: 'valuePath'; attribute: string; filter: FilterNode };

const COMPARATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le', 'pr', 'np']);
const PRESENCE = new Set(['pr', 'np']);
const NUMBER = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const ATTRIBUTE_NAME = /^[A-Za-z][\w$-]*$/;

interface Token {
  type: '(' | ')' | '[' | ']' | 'string' | 'word';
  text: string;
  at: number;
  value?: string;
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const PUNCTUATION = new Set(['(', ')', '[', ']']);

/** Unescapes a quoted string's body: JSON escapes where they are valid, any other `\x` as `x`. */
function unescape(body: string): string {
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch {
    let out = '';
    for (let i = 0; i < body.length; i++) out += body[i] === '\\' && i + 1 < body.length ? body[++i] : body[i];
    return out;
  }
}

function tokenise(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (PUNCTUATION.has(text[i])) {
      tokens.push({ type: text[i] as Token['type'], text: text[i], at: i });
      i++;
    } else if (text[i] === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw new FilterSyntaxError(`the string starting at character ${i + 1} is not closed`);
      tokens.push({ type: 'string', text: text.slice(i, j + 1), at: i, value: unescape(text.slice(i + 1, j)) });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !isSpace(text.charCodeAt(j)) && !PUNCTUATION.has(text[j]) && text[j] !== '"') j++;
      tokens.push({ type: 'word', text: text.slice(i, j), at: i });
      i = j;
    }
  }
  return tokens;
}

/**
 * Checks an attribute path (`userName`, `name.givenName`, `urn:…:User:department`) and returns it. At most one
 * sub-attribute (RFC 7644's ATTRNAME *1subAttr), names that start with a letter, and no `__proto__`.
 */
export function checkAttributePath(path: string): string {
  if (path.length > MAX_ATTRIBUTE_PATH_LENGTH) {
    throw new FilterSyntaxError(`an attribute path is longer than ${MAX_ATTRIBUTE_PATH_LENGTH} characters`);
  }
  const forbidden = forbiddenSegmentOf(path);
  if (forbidden !== undefined) throw new FilterSyntaxError(`"${forbidden}" is not an attribute name`);
  let names = path;
  if (path.toLowerCase().startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    if (cut <= 4 || !/^urn:[A-Za-z0-9.:_-]+$/.test(path.slice(0, cut))) {
      throw new FilterSyntaxError(`${quoteInput(path)} is not an attribute path`);
    }
    names = path.slice(cut + 1);
  }
  const parts = names.split('.');
  if (parts.length > 2 || !parts.every((p) => ATTRIBUTE_NAME.test(p))) {
    throw new FilterSyntaxError(`${quoteInput(path)} is not an attribute path`);
  }
  return path;
}

class Parser {
  private pos = 0;
  comparisons = 0;

  constructor(private readonly tokens: Token[]) {}

  get done(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(what: string): Token {
    const token = this.tokens[this.pos++];
    if (!token) throw new FilterSyntaxError(`the filter ends where ${what} was expected`);
    return token;
  }

  private expect(type: Token['type']): void {
    const token = this.next(`"${type}"`);
    if (token.type !== type) {
      throw new FilterSyntaxError(`expected "${type}" at character ${token.at + 1}, found ${quoteInput(token.text)}`);
    }
  }

  private isKeyword(token: Token | undefined, word: string): boolean {
    return token?.type === 'word' && token.text.toLowerCase() === word;
  }

  private deeper(depth: number): number {
    if (depth + 1 > MAX_FILTER_DEPTH) {
      throw new FilterSyntaxError(`the filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
    }
    return depth + 1;
  }

  or(depth: number, inValuePath: boolean): FilterNode {
    const items = [this.and(depth, inValuePath)];
    while (this.isKeyword(this.peek(), 'or')) {
      this.pos++;
      items.push(this.and(depth, inValuePath));
    }
    return items.length === 1 ? items[0] : { kind: 'or', items };
  }

  private and(depth: number, inValuePath: boolean): FilterNode {
    const items = [this.unary(depth, inValuePath)];
    while (this.isKeyword(this.peek(), 'and')) {
      this.pos++;
      items.push(this.unary(depth, inValuePath));
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  }

  private unary(depth: number, inValuePath: boolean): FilterNode {
    const token = this.next('an expression');
    if (this.isKeyword(token, 'not')) {
      if (this.peek()?.type !== '(') throw new FilterSyntaxError('"not" must be followed by a parenthesised filter');
      this.pos++;
      const item = this.or(this.deeper(depth), inValuePath);
      this.expect(')');
      return { kind: 'not', item };
    }
    if (token.type === '(') {
      const inner = this.or(this.deeper(depth), inValuePath);
      this.expect(')');
      return inner;
    }
    if (token.type !== 'word') {
      throw new FilterSyntaxError(
        `expected an attribute at character ${token.at + 1}, found ${quoteInput(token.text)}`,
      );
    }
    const path = checkAttributePath(token.text);
    if (this.peek()?.type === '[') {
      if (inValuePath) throw new FilterSyntaxError('a complex attribute filter cannot contain another one');
      this.pos++;
      let filter = this.or(this.deeper(depth), true);
      this.expect(']');
      // `emails[type eq "work"].value eq "x"`: a comparison on a sub-attribute of the filtered values.
      const after = this.peek();
      if (after?.type === 'word' && after.text.startsWith('.')) {
        this.pos++;
        filter = { kind: 'and', items: [filter, this.comparison(checkAttributePath(after.text.slice(1)))] };
      }
      return { kind: 'valuePath', attribute: path, filter };
    }
    return this.comparison(path);
  }

  private comparison(path: string): FilterNode {
    const opToken = this.next(`a comparison operator after ${quoteInput(path)}`);
    const op = opToken.text.toLowerCase();
    if (opToken.type !== 'word' || !COMPARATORS.has(op)) {
      throw new FilterSyntaxError(`${quoteInput(opToken.text)} is not a comparison operator`);
    }
    if (++this.comparisons > MAX_FILTER_COMPARISONS) {
      throw new FilterSyntaxError(`the filter has more than ${MAX_FILTER_COMPARISONS} comparisons`);
    }
    if (PRESENCE.has(op)) return { kind: 'compare', path, op };
    const valueToken = this.next(`a value after "${op}"`);
    return { kind: 'compare', path, op, value: this.literal(valueToken, op) };
  }

  private literal(token: Token, op: string): unknown {
    if (token.type === 'string') return token.value;
    const word = token.type === 'word' ? token.text : '';
    const lower = word.toLowerCase();
    if (lower === 'true' || lower === 'false') return lower === 'true';
    if (lower === 'null') return null;
    if (NUMBER.test(word)) return Number(word);
    // Microsoft's reference server and the clients tested against it send bare words as values
    // (`name.familyName eq Employee`, `meta.created gt 2015-10-10T14:38:21-07:00`): read them as the string they
    // spell; a date-shaped one then compares as a dateTime like a quoted one does.
    if (token.type === 'word') return word;
    throw new FilterSyntaxError(
      `expected a value ("text", a number, true, false or null) after "${op}", found ${quoteInput(token.text)}`,
    );
  }
}

/** Parses a whole filter, within every budget but the term count (see termCount). */
export function parseFilterTree(text: string): FilterNode {
  if (text.length > MAX_FILTER_LENGTH) {
    throw new FilterSyntaxError(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  }
  const parser = new Parser(tokenise(text));
  if (parser.done) throw new FilterSyntaxError('the filter is empty');
  const tree = parser.or(0, false);
  const rest = parser.peek();
  if (rest) throw new FilterSyntaxError(`unexpected ${quoteInput(rest.text)} at character ${rest.at + 1}`);
  return tree;
}

export interface PatchPath {
  attribute: string;
  /** The value filter of `attr[filter]`. */
  filter?: FilterNode;
  /** The sub-attribute after a value filter: `emails[type eq "work"].value`. */
  subAttribute?: string;
}

/** Parses a PATCH path (RFC 7644 §3.5.2: attrPath / valuePath [subAttr]). */
export function parsePatchPath(text: string, maxLength: number): PatchPath {
  if (text.length > maxLength) throw new FilterSyntaxError(`the path is longer than ${maxLength} characters`);
  const tokens = tokenise(text);
  const head = tokens[0];
  if (!head || head.type !== 'word') throw new FilterSyntaxError(`${quoteInput(text)} is not an attribute path`);
  const attribute = checkAttributePath(head.text);
  if (tokens.length === 1) return { attribute };
  if (tokens[1].type !== '[') throw new FilterSyntaxError(`${quoteInput(text)} is not an attribute path`);
  const close = findClosingBracket(tokens);
  const parser = new Parser(tokens.slice(2, close));
  if (parser.done) throw new FilterSyntaxError(`the value filter in ${quoteInput(text)} is empty`);
  const filter = parser.or(1, true);
  if (!parser.done) throw new FilterSyntaxError(`${quoteInput(text)} is not an attribute path`);
  const tail = tokens.slice(close + 1);
  if (tail.length === 0) return { attribute, filter };
  if (tail.length === 1 && tail[0].type === 'word' && tail[0].text.startsWith('.')) {
    return { attribute, filter, subAttribute: checkAttributePath(tail[0].text.slice(1)) };
  }
  throw new FilterSyntaxError(`${quoteInput(text)} is not an attribute path`);
}

function findClosingBracket(tokens: Token[]): number {
  // Value filters cannot nest, so the first "]" closes (strings are single tokens: a "]" inside one is data).
  const close = tokens.findIndex((t) => t.type === ']');
  if (close < 0) throw new FilterSyntaxError('a "[" is not closed');
  return close;
}

/** Every attribute path a filter compares, with value-filter prefixes (`emails[type eq "x"]` → `emails.type`). */
export function attributePaths(node: FilterNode, prefix = ''): string[] {
  switch (node.kind) {
    case 'compare':
      return [prefix ? `${prefix}.${node.path}` : node.path];
    case 'and':
    case 'or':
      return node.items.flatMap((i) => attributePaths(i, prefix));
    case 'not':
      return attributePaths(node.item, prefix);
    case 'valuePath':
      return attributePaths(node.filter, node.attribute);
  }
}

/**
 * How many OR'd terms the filter expands to (its disjunctive normal form), counted without expanding it:
 * AND multiplies, OR adds, and `not` swaps the two (De Morgan). Saturates just above `limit`.
 */
export function termCount(node: FilterNode, limit = MAX_FILTER_TERMS): number {
  const cap = (n: number) => Math.min(n, limit + 1);
  const count = (n: FilterNode, negated: boolean): number => {
    switch (n.kind) {
      case 'compare':
        return 1;
      case 'not':
        return count(n.item, !negated);
      case 'valuePath':
        return count(n.filter, negated);
      case 'and':
      case 'or': {
        const multiply = (n.kind === 'and') !== negated;
        return n.items.reduce(
          (acc, i) => cap(multiply ? acc * count(i, negated) : acc + count(i, negated)),
          multiply ? 1 : 0,
        );
      }
    }
  };
  return count(node, false);
}

// ---- disjunctive normal form, in the shape src/scim/filter.ts reads for pushdown to Kit --------------------------

type Item = { literal: FilterNode & { kind: 'compare' }; negate: boolean } | { valuePath: string; conj: Item[] };

function dnf(node: FilterNode, negated: boolean): Item[][] {
  switch (node.kind) {
    case 'compare':
      return [[{ literal: node, negate: negated }]];
    case 'not':
      return dnf(node.item, !negated);
    case 'valuePath':
      if (negated) {
        // "No email is a work email" has no form in the per-attribute DNF the evaluator reads.
        throw new FilterSyntaxError(`"not" around a complex attribute filter (${node.attribute}[…]) is not supported`);
      }
      return dnf(node.filter, false).map((conj) => [{ valuePath: node.attribute, conj }]);
    case 'and':
    case 'or': {
      const children = node.items.map((i) => dnf(i, negated));
      if ((node.kind === 'or') !== negated) return children.flat();
      let product: Item[][] = [[]];
      for (const child of children) product = product.flatMap((left) => child.map((right) => [...left, ...right]));
      return product;
    }
  }
}

/** Keys as scimmy writes them: the first letter lower-cased (SCIM names start lower-case). */
const keyOf = (name: string) => `${name[0].toLowerCase()}${name.slice(1)}`;

/** `name.givenName` → ["name", "givenName"]; a URN-qualified path keeps its URN on the first key. */
function splitPath(path: string): string[] {
  let urn = '';
  let names = path;
  if (path.toLowerCase().startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    urn = path.slice(0, cut + 1);
    names = path.slice(cut + 1);
  }
  const parts = names.split('.').map(keyOf);
  parts[0] = `${urn}${parts[0]}`;
  return parts;
}

type Dict = Record<string, unknown>;
const dict = (): Dict => Object.create(null) as Dict;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const isExpression = (v: unknown): v is unknown[] => Array.isArray(v) && typeof v[0] === 'string';

/** Adds a condition under a key: one expression, several (array of expressions), an object, or a mix (all ANDed). */
function addCondition(target: Dict, key: string, condition: unknown[] | Dict): Dict | undefined {
  const existing = target[key];
  if (existing === undefined) {
    target[key] = condition;
  } else if (isDict(existing) && isDict(condition)) {
    return existing;
  } else {
    const list = isExpression(existing) || isDict(existing) ? [existing] : (existing as unknown[]);
    target[key] = [...list, condition];
  }
  return isDict(condition) ? condition : undefined;
}

function place(target: Dict, items: Item[]): void {
  for (const item of items) {
    if ('literal' in item) {
      const { path, op, value } = item.literal;
      const keys = splitPath(path);
      let node = target;
      for (const key of keys.slice(0, -1)) {
        const child = dict();
        node = addCondition(node, key, child) ?? child;
      }
      const expression = [...(item.negate ? ['not'] : []), op, ...(PRESENCE.has(op) ? [] : [value])];
      addCondition(node, keys[keys.length - 1], expression);
    } else {
      const keys = splitPath(item.valuePath);
      let node = target;
      for (const key of keys) {
        const child = dict();
        node = addCondition(node, key, child) ?? child;
      }
      place(node, item.conj);
    }
  }
}

/** The filter as an array of OR'd terms, each an object of ANDed conditions per attribute (null prototypes). */
export function toDnf(node: FilterNode): Dict[] {
  return dnf(node, false).map((conj) => {
    const term = dict();
    place(term, conj);
    return term;
  });
}
