import { ScimBadRequest } from '../errors';
import { isForbiddenSegment } from '../../platform/forbiddenKeys';
import type { ValueType } from '../../config/mapping/catalog';

// SCIM values as Kit holds them: Kit's email, first name and custom fields hold text only, so every mapped value
// is written as text and read back into its SCIM type, exactly: `true` comes back a boolean, 42 a number, a
// dateTime the same string, an address (or any complex or multi-valued value) the same JSON.

/**
 * Longest text this server writes into one Kit field. Kit's v4 reference states no limit for a custom field
 * value (docs/kit/api.md "Custom fields"); we rely on 2,000 characters being kept whole, and refuse anything
 * longer with a 400 naming the attribute rather than let Kit (or a later Kit limit) truncate it silently.
 */
export const MAX_KIT_FIELD_VALUE_LENGTH = 2000;

/** A value that cannot be stored as the mapping says: raised before any Kit call, answered as 400 invalidValue. */
export class UnstorableValueError extends ScimBadRequest {
  constructor(
    readonly attribute: string,
    reason: string,
  ) {
    super('invalidValue', `${attribute} ${reason}`);
  }
}

/** Strips null members and empty values, so `{"country":null}` and `{}` store alike (RFC 7643 §2.5: unassigned). */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(compact).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, compact(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value === null || value === '' ? undefined : value;
}

/** The text Kit should hold for a SCIM value, or null to clear the field. */
export function encodeValue(value: unknown, type: ValueType, attribute: string): string | null {
  let text: string | null;
  if (type === 'complex' || Array.isArray(value) || (typeof value === 'object' && value !== null)) {
    const kept = compact(value);
    text = kept === undefined ? null : JSON.stringify(kept);
  } else if (value === undefined || value === null || value === '') {
    text = null;
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') throw new UnstorableValueError(attribute, 'must be a boolean.');
    text = String(value);
  } else if (type === 'integer' || type === 'decimal') {
    if (typeof value !== 'number' || !Number.isFinite(value) || (type === 'integer' && !Number.isInteger(value)))
      throw new UnstorableValueError(attribute, `must be ${type === 'integer' ? 'an integer' : 'a number'}.`);
    text = String(value);
  } else {
    text = String(value);
  }
  if (text !== null && text.length > MAX_KIT_FIELD_VALUE_LENGTH) {
    throw new UnstorableValueError(
      attribute,
      `is ${text.length} characters once stored; a Kit field holds at most ${MAX_KIT_FIELD_VALUE_LENGTH}, and values are never truncated.`,
    );
  }
  return text;
}

/** JSON from a Kit field, without prototype keys (anyone with Kit access can edit a field's text). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text, (key, v) => (isForbiddenSegment(key) ? undefined : v));
  } catch {
    return undefined;
  }
}

/**
 * The SCIM value behind a Kit field's text; undefined for an empty field, or for text that does not read as
 * the mapped type (edited in Kit by hand): such a value is left out rather than reported as something else.
 */
export function decodeValue(text: unknown, type: ValueType): unknown {
  if (text === undefined || text === null || text === '') return undefined;
  const s = String(text);
  switch (type) {
    case 'boolean':
      return s === 'true' ? true : s === 'false' ? false : undefined;
    case 'integer':
      return /^-?\d{1,16}$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined;
    case 'decimal': {
      const n = s.length <= 64 ? Number(s) : Number.NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'complex': {
      const v = parseJson(s);
      return typeof v === 'object' && v !== null ? v : undefined;
    }
    default:
      // A multi-valued simple attribute of an extension is stored as a JSON array too.
      return s;
  }
}
