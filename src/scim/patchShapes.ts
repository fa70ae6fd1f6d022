import { ScimBadRequest } from './errors';

// IdPs send PATCH shapes RFC 7644 §3.5.2 does not quite describe. Entra ID: capitalised ops ("Replace"),
// booleans as strings ("False"), value objects without a path, `emails[type eq "work"].value` paths.
// Okta: `{"op":"replace","value":{"active":false}}`. Everything is normalised here, before scimmy sees it.

const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BOOLEAN_ATTRIBUTES = new Set(['active', 'primary']);
const CORE_URN_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i;

function leafName(path: string): string {
  const noFilter = path.replace(/\[[^\]]*\]/g, '');
  const afterUrn = noFilter.includes(':') ? noFilter.slice(noFilter.lastIndexOf(':') + 1) : noFilter;
  return afterUrn.split('.').pop()!.toLowerCase();
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
  const Operations = ops.map((raw, i): PatchOperation => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ScimBadRequest('invalidSyntax', `Operation ${i + 1} must be an object.`);
    }
    const { op, path, value } = raw as Record<string, unknown>;
    const name = typeof op === 'string' ? op.trim().toLowerCase() : '';
    if (name !== 'add' && name !== 'remove' && name !== 'replace') {
      throw new ScimBadRequest('invalidSyntax', `Operation ${i + 1} has an unknown op "${String(op)}".`);
    }
    if (path !== undefined && (typeof path !== 'string' || path.trim() === '')) {
      throw new ScimBadRequest('invalidPath', `Operation ${i + 1} has an invalid path.`);
    }
    // Some clients prefix core attributes with their schema URN (RFC 7644 §3.10 allows it); scimmy does not.
    const trimmedPath = typeof path === 'string' ? path.trim().replace(CORE_URN_PREFIX, '') : undefined;
    let normalised = value;
    if (trimmedPath && BOOLEAN_ATTRIBUTES.has(leafName(trimmedPath))) normalised = asBoolean(value);
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
