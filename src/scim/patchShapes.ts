import { ScimBadRequest } from './errors';
import { asInvalidValue } from './errors';
import {
  attributePaths,
  type FilterNode,
  FilterSyntaxError,
  type PatchPath,
  parsePatchPath,
  termCount,
} from './filterSyntax';
import { MAX_FILTER_TERMS, MAX_PATCH_OPERATIONS, MAX_PATCH_PATH_LENGTH, quoteInput } from './inputLimits';
import type { AttributeDeclarations } from './schemas';
import type { Attribute } from './scimmy';
import { FULL_PATH, isUserSchemaAttribute, splitUnmapped, type UnmappedPolicy } from './unmappedAttributes';

// IdPs send PATCH shapes RFC 7644 §3.5.2 does not quite describe. Entra ID: capitalised ops ("Replace"),
// booleans as strings ("False"), value objects without a path, `emails[type eq "work"].value` paths.
// Okta: `{"op":"replace","value":{"active":false}}`. Everything is normalised here, before scimmy sees it.

const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BOOLEAN_ATTRIBUTES = new Set(['active', 'primary']);
const CORE_URN_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i;

function leafName(path: PatchPath): string {
  const last = path.subAttribute ?? path.attribute;
  const afterUrn = last.slice(last.lastIndexOf(':') + 1);
  return afterUrn.split('.').pop()!.toLowerCase();
}

/**
 * Reads a PATCH path with our own parser (src/scim/filterSyntax.ts) before scimmy's PatchOp sees it: scimmy would
 * assign `__proto__` segments, multiply out the value filter, and answer malformed paths with its internals.
 */
export function readPatchPath(path: string, index: number): PatchPath {
  try {
    const parsed = parsePatchPath(path, MAX_PATCH_PATH_LENGTH);
    if (parsed.filter && termCount(parsed.filter) > MAX_FILTER_TERMS) {
      throw new FilterSyntaxError(`its value filter expands to more than ${MAX_FILTER_TERMS} OR'd terms`);
    }
    return parsed;
  } catch (err) {
    if (err instanceof FilterSyntaxError) {
      throw new ScimBadRequest('invalidPath', `Operation ${index + 1} has an invalid path: ${err.message}.`, err);
    }
    throw err;
  }
}

function asBoolean(value: unknown): unknown {
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  return value;
}

/** Entra sends booleans as strings ("False") in POST and PUT bodies too, not only in PATCH values. */
export function booleanise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(booleanise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        BOOLEAN_ATTRIBUTES.has(k.toLowerCase()) ? asBoolean(v) : booleanise(v),
      ]),
    );
  }
  return value;
}

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: unknown;
}

export interface PatchMessage {
  schemas: string[];
  Operations: PatchOperation[];
}

export function normalizePatch(body: unknown, resource: 'User' | 'Group'): PatchMessage {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimBadRequest('invalidSyntax', 'A PATCH body must be a PatchOp message object.');
  }
  const message = body as Record<string, unknown>;
  const schemas = message.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) {
    throw new ScimBadRequest('invalidSyntax', `A PATCH body must declare the schema ${PATCH_SCHEMA}.`);
  }
  const ops = message.Operations ?? message.operations;
  if (!Array.isArray(ops) || ops.length === 0) {
    throw new ScimBadRequest('invalidValue', 'A PATCH body needs a non-empty Operations array.');
  }
  if (ops.length > MAX_PATCH_OPERATIONS) {
    throw new ScimBadRequest('invalidValue', `A PATCH body may hold at most ${MAX_PATCH_OPERATIONS} operations.`);
  }
  const Operations = ops.map((raw, i): PatchOperation => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ScimBadRequest('invalidSyntax', `Operation ${i + 1} must be an object.`);
    }
    const { op, path, value } = raw as Record<string, unknown>;
    const name = typeof op === 'string' ? op.trim().toLowerCase() : '';
    if (name !== 'add' && name !== 'remove' && name !== 'replace') {
      throw new ScimBadRequest('invalidSyntax', `Operation ${i + 1} has an unknown op ${quoteInput(String(op))}.`);
    }
    if (path !== undefined && (typeof path !== 'string' || path.trim() === '')) {
      throw new ScimBadRequest('invalidPath', `Operation ${i + 1} has an invalid path.`);
    }
    // Some clients prefix core attributes with their schema URN (RFC 7644 §3.10 allows it); scimmy does not.
    const trimmedPath = typeof path === 'string' ? path.trim().replace(CORE_URN_PREFIX, '') : undefined;
    const parsed = trimmedPath ? readPatchPath(trimmedPath, i) : undefined;
    let normalised = value;
    if (parsed && BOOLEAN_ATTRIBUTES.has(leafName(parsed))) normalised = asBoolean(value);
    else if (value !== undefined) normalised = booleanise(value);
    // Entra sometimes wraps a path-less value object in a one-element array.
    if (!trimmedPath && Array.isArray(normalised) && normalised.length === 1 && resource === 'User') {
      normalised = normalised[0];
    }
    // scimmy crashes (TypeError) on a path-less add/replace whose value is null.
    if (!trimmedPath && name !== 'remove' && (normalised === null || typeof normalised !== 'object')) {
      throw new ScimBadRequest('invalidValue', `Operation ${i + 1} has no path, so its value must be an object.`);
    }
    return {
      op: name,
      ...(trimmedPath ? { path: trimmedPath } : {}),
      ...(normalised !== undefined ? { value: normalised } : {}),
    };
  });
  return { schemas: [PATCH_SCHEMA], Operations };
}

/** Attributes a path-less value object may carry that are not data to write (Okta sends the id along). */
const NOT_WRITTEN = new Set(['schemas', 'id', 'meta']);

/** What checkUserPatch needs of the mapping's User schema: its attributes and its extensions. */
export interface UserPatchSchema extends AttributeDeclarations {
  /** A declared extension by its URN (any letter case): its canonical id and the attributes a client may write. */
  extension(urn: string): { id: string; writable: string[] } | undefined;
}

/** A User PatchOp ready for scimmy, and the unmapped attributes it named that were left out. */
export interface UserPatchPlan {
  message: PatchMessage;
  ignored: string[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks a normalised User PatchOp against the mapping's User schema before any Kit call: every path names an attribute
 * the User resource has (value filters included), and every value coerces to its attribute's type. scimmy's
 * PatchOp would find the same problems, but only after the two Kit reads it needs the current user for.
 *
 * It also reads the shapes Entra sends for the enterprise extension: a whole extension URN as the path (remove
 * clears every attribute of it; add and replace take the extension object, as a path-less value would), and the
 * manager as a plain string, which is its id (RFC 7643 §4.3 `manager.value`). Attributes RFC 7643 defines that
 * the mapping does not hold are left out (`ignore`, named in the plan) or refused (`refuse`).
 */
export function checkUserPatch(
  message: PatchMessage,
  schema: UserPatchSchema,
  unmapped: UnmappedPolicy = 'ignore',
): UserPatchPlan {
  const ignored: string[] = [];
  const extensionIds = (urn: string) => schema.extension(urn)?.id;
  const Operations: PatchOperation[] = [];
  const unmappedFound = (paths: string[], index: number) => {
    if (paths.length === 0) return;
    if (unmapped === 'refuse') {
      throw new ScimBadRequest(
        'invalidPath',
        `Operation ${index + 1}: ${quoteInput(paths[0], FULL_PATH)} is not held by this server's attribute mapping.`,
      );
    }
    for (const p of paths) if (!ignored.includes(p)) ignored.push(p);
  };
  const pathless = (op: PatchOperation, i: number) => {
    if (isPlainObject(op.value)) {
      const extensions = Object.keys(op.value).flatMap((k) => extensionIds(k) ?? []);
      const split = splitUnmapped(op.value, schema, extensions);
      unmappedFound(split.paths, i);
      // scimmy answers a path-less key it cannot place with invalidPath: the ignored ones are left out.
      op = { ...op, value: split.kept };
      for (const [key, value] of Object.entries(split.kept)) {
        if (NOT_WRITTEN.has(key.toLowerCase())) continue;
        const definition = schema.attribute(key.replace(CORE_URN_PREFIX, ''));
        // Unknown keys are left to scimmy, which ignores what the schema does not declare.
        if (definition) coerceValue(definition, value, i);
      }
    }
    Operations.push(op);
  };
  message.Operations.forEach((op, i) => {
    if (op.path === undefined) return pathless(op, i);
    const extension = schema.extension(op.path);
    if (extension) {
      if (op.op === 'remove') {
        for (const name of extension.writable) Operations.push({ op: 'remove', path: `${extension.id}:${name}` });
        return;
      }
      if (!isPlainObject(op.value)) {
        throw new ScimBadRequest(
          'invalidValue',
          `Operation ${i + 1}: the path names the extension ${quoteInput(extension.id)}, so its value must be an object of its attributes.`,
        );
      }
      return pathless({ op: op.op, value: { [extension.id]: op.value } }, i);
    }
    const path = readPatchPath(op.path, i);
    const target = path.subAttribute ? `${path.attribute}.${path.subAttribute}` : path.attribute;
    const definition = schema.attribute(target);
    if (!definition) {
      if (isUserSchemaAttribute(target)) return unmappedFound([target], i);
      throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: ${quoteInput(target)} is not a User attribute.`);
    }
    if (path.filter) {
      const unknown = attributePaths(path.filter, path.attribute).find((p) => !schema.attribute(p));
      if (unknown !== undefined) {
        throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: ${quoteInput(unknown)} is not a User attribute.`);
      }
    }
    const singular = definition.config?.multiValued !== true;
    if (op.op === 'remove') {
      // Entra names the value it removes from a single-valued attribute (the manager): the attribute goes.
      Operations.push(singular && !path.filter ? { op: 'remove', path: op.path } : op);
      return;
    }
    let value = op.value;
    const takesValue = definition.type === 'complex' && definition.subAttributes?.some((s) => s.name === 'value');
    if (singular && takesValue && !path.filter && (typeof value === 'string' || typeof value === 'number')) {
      value = { value: String(value) };
    }
    if (value !== undefined) coerceValue(definition, value, i);
    Operations.push({ ...op, ...(value !== undefined ? { value } : {}) });
  });
  return { message: { ...message, Operations }, ignored };
}

type Equalities = Record<string, string | number | boolean>;

/** `type eq "work"` (and conjunctions of such): the sub-attribute values an entry the filter matches has. */
function equalitiesOf(filter: FilterNode): Equalities | undefined {
  const terms = filter.kind === 'and' ? filter.items : [filter];
  const out: Equalities = {};
  for (const term of terms) {
    if (term.kind !== 'compare' || term.op !== 'eq' || term.path.includes('.')) return undefined;
    const v = term.value;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
    out[term.path] = v;
  }
  return out;
}

function keyOf(object: Record<string, unknown>, name: string): string | undefined {
  return Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
}

function matches(entry: unknown, equalities: Equalities): boolean {
  if (!isPlainObject(entry)) return false;
  return Object.entries(equalities).every(([name, expected]) => {
    const key = keyOf(entry, name);
    const actual = key === undefined ? undefined : entry[key];
    return typeof actual === 'string' && typeof expected === 'string'
      ? actual.toLowerCase() === expected.toLowerCase()
      : actual === expected;
  });
}

/** The entries of a multi-valued attribute (`phoneNumbers`, `<URN>:badges`) on a rendered User. */
function entriesOf(user: Record<string, unknown>, attribute: string): unknown[] {
  const colon = attribute.lastIndexOf(':');
  let holder: unknown = user;
  if (colon !== -1) {
    const urn = keyOf(user, attribute.slice(0, colon));
    holder = urn === undefined ? undefined : user[urn];
  }
  if (!isPlainObject(holder)) return [];
  const key = keyOf(holder, attribute.slice(colon + 1));
  const value = key === undefined ? undefined : holder[key];
  return Array.isArray(value) ? [...value] : [];
}

/**
 * Entra sends `Add` (and `Replace`) on a value-filter path to mean "this entry": `phoneNumbers[type eq "mobile"].value`
 * for a user with no mobile number yet. RFC 7644 §3.5.2.1/.3 would answer 400 noTarget; here the entry is created
 * with the filter's attribute values (`type: "mobile"`) and the value, as one `add` of a list of one. Only filters of
 * `eq` terms joined by `and` say what the entry is; anything else, and `remove` (§3.5.2.2), keep their RFC meaning.
 * Later operations of the same message see the entries earlier ones created.
 */
export function withFilteredEntries(message: PatchMessage, current: object): PatchMessage {
  const known = new Map<string, unknown[]>();
  const Operations = message.Operations.map((op, i): PatchOperation => {
    if (op.op === 'remove' || op.path === undefined) return op;
    const path = readPatchPath(op.path, i);
    const equalities = path.filter && equalitiesOf(path.filter);
    // Kit holds one address, always rendered as the work email: a second entry would be a change never made.
    if (!equalities || path.attribute.toLowerCase() === 'emails') return op;
    const name = path.attribute.toLowerCase();
    const entries = known.get(name) ?? entriesOf(current as Record<string, unknown>, path.attribute);
    known.set(name, entries);
    if (entries.some((e) => matches(e, equalities))) return op;
    let entry: Record<string, unknown>;
    if (path.subAttribute !== undefined) entry = { ...equalities, [path.subAttribute]: op.value };
    else if (isPlainObject(op.value)) entry = { ...equalities, ...op.value };
    else return op;
    entries.push(entry);
    return { op: 'add', path: path.attribute, value: [entry] };
  });
  return { ...message, Operations };
}

/** Coerces a value with scimmy's attribute definition (a TypeError is the client's wrong value). */
function coerceValue(definition: Attribute, value: unknown, index: number): void {
  // A multi-valued attribute takes a list; one value added to it (or the element a value filter picks) is a list of one.
  const given = definition.config?.multiValued === true && !Array.isArray(value) ? [value] : value;
  try {
    asInvalidValue(() => definition.coerce(given, 'in'));
  } catch (err) {
    if (err instanceof ScimBadRequest) {
      throw new ScimBadRequest('invalidValue', `Operation ${index + 1}: ${err.message}`, err);
    }
    throw err;
  }
}

/**
 * RFC 7644 §3.5.1: the id in a PUT body, when there is one, must be the id in the URL. Refused rather than
 * ignored: a client that sends another resource's id is about to overwrite the wrong resource.
 */
export function assertSameId(body: Record<string, unknown>, id: string, resource: 'User' | 'Group'): void {
  if (body.id === undefined || body.id === null) return;
  if (String(body.id) !== id) {
    throw new ScimBadRequest(
      'invalidValue',
      `The body's id ${quoteInput(String(body.id))} is not this ${resource}'s id "${id}": id is assigned by the server and cannot change.`,
    );
  }
}
