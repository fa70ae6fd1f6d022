import { ScimBadRequest } from './errors';
import { asInvalidValue } from './errors';
import { attributePaths, FilterSyntaxError, type PatchPath, parsePatchPath, termCount } from './filterSyntax';
import { MAX_FILTER_TERMS, MAX_PATCH_OPERATIONS, MAX_PATCH_PATH_LENGTH, quoteInput } from './inputLimits';
import type { AttributeDeclarations } from './schemas';
import type { Attribute } from './scimmy';

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

/**
 * Checks a normalised User PatchOp against the mapping's User schema before any Kit call: every path names an attribute
 * the User resource has (value filters included), and every value coerces to its attribute's type. scimmy's
 * PatchOp would find the same problems, but only after the two Kit reads it needs the current user for.
 */
export function checkUserPatch(message: PatchMessage, schema: AttributeDeclarations): void {
  message.Operations.forEach((op, i) => {
    if (op.path === undefined) {
      if (op.value && typeof op.value === 'object' && !Array.isArray(op.value)) {
        for (const [key, value] of Object.entries(op.value as Record<string, unknown>)) {
          if (NOT_WRITTEN.has(key.toLowerCase())) continue;
          const definition = schema.attribute(key.replace(CORE_URN_PREFIX, ''));
          // Unknown keys are left to scimmy, which ignores what the schema does not declare.
          if (definition) coerceValue(definition, value, i);
        }
      }
      return;
    }
    const path = readPatchPath(op.path, i);
    const target = path.subAttribute ? `${path.attribute}.${path.subAttribute}` : path.attribute;
    const definition = schema.attribute(target);
    if (!definition) {
      throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: ${quoteInput(target)} is not a User attribute.`);
    }
    if (path.filter) {
      const unknown = attributePaths(path.filter, path.attribute).find((p) => !schema.attribute(p));
      if (unknown !== undefined) {
        throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: ${quoteInput(unknown)} is not a User attribute.`);
      }
    }
    if (op.op !== 'remove' && op.value !== undefined) {
      coerceValue(definition, op.value, i);
    }
  });
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
