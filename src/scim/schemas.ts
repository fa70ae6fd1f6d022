import SCIMMY from 'scimmy';
import { ScimBadRequest } from './errors';
import { checkAttributePath, FilterSyntaxError, parsePatchPath } from './filterSyntax';
import { MAX_ATTRIBUTE_NAMES, MAX_ATTRIBUTE_PATH_LENGTH, MAX_PATCH_PATH_LENGTH } from './inputLimits';
import { type Attribute, attributeAt, groupDefinition } from './scimmy';

// What requests may ask of the SCIM schemas (attributes, filters' attribute paths). The
// User schema is the one of the mapping being served (userSchema.ts), passed in; the Group schema is scimmy's
// own, the same for every mapping.

export type AttributeFilter = InstanceType<typeof SCIMMY.Types.Filter> | undefined;

/** RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`, in the form scimmy's renderer takes. */
export function attributeFilter(attributes?: string, excludedAttributes?: string): AttributeFilter {
  // Same construction scimmy's Resource uses, so its renderer honours "returned" rules (id, schemas always).
  if (attributes?.trim()) return attributeList('attributes', attributes, 'pr');
  if (excludedAttributes?.trim()) return attributeList('excludedAttributes', excludedAttributes, 'np');
  return undefined;
}

function attributeList(param: string, list: string, op: 'pr' | 'np'): AttributeFilter {
  const names = checkAttributeList(param, list);
  // scimmy 1.3.5 crashes rendering an extension attribute (`<URN>:department`) when `schemas` is filtered out;
  // schemas are always returned anyway (RFC 7643 §3, withSchemas below), so asking for them changes nothing else.
  if (op === 'pr' && !names.some((n) => n.toLowerCase() === 'schemas')) names.unshift('schemas');
  const expression = names.map((a) => `${a} ${op}`).join(' and ');
  try {
    return new SCIMMY.Types.Filter(expression);
  } catch (err) {
    // scimmy's own wording names its internals; the client gets ours.
    throw new ScimBadRequest('invalidValue', `${param} is not a list of attribute names.`, err);
  }
}

/** The longest `attributes` / `excludedAttributes` list read: every name at its longest. */
const MAX_ATTRIBUTE_LIST_LENGTH = MAX_ATTRIBUTE_NAMES * (MAX_ATTRIBUTE_PATH_LENGTH + 1);

/** Splits a list at the commas outside brackets and quoted strings (`emails[value eq "a,b"]` is one name). */
function splitNames(list: string): string[] {
  const names: string[] = [];
  let start = 0;
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      names.push(list.slice(start, i));
      start = i + 1;
    }
  }
  names.push(list.slice(start));
  return names;
}

/**
 * `attributes` / `excludedAttributes` with every value filter read as the attribute it filters:
 * `emails[type eq "work"]` as `emails`, `emails[type eq "work"].value` as `emails.value`. RFC 7644 §3.4.2.5 asks
 * for attribute names, but Microsoft's reference collection (and the clients tested against it) send value
 * paths; a projection returns whole attributes anyway. The filter is still parsed, within the PATCH path limits,
 * so a malformed one is refused rather than ignored.
 */
export function plainAttributeList(param: string, list: string | undefined): string | undefined {
  if (list === undefined || !list.includes('[')) return list;
  if (list.length > MAX_ATTRIBUTE_LIST_LENGTH) {
    throw new ScimBadRequest('invalidValue', `${param} is longer than any list of ${MAX_ATTRIBUTE_NAMES} names.`);
  }
  const names = splitNames(list);
  if (names.length > MAX_ATTRIBUTE_NAMES) {
    throw new ScimBadRequest('invalidValue', `${param} names more than ${MAX_ATTRIBUTE_NAMES} attributes.`);
  }
  return names
    .map((raw) => {
      const name = raw.trim();
      if (!name.includes('[')) return name;
      try {
        const { attribute, subAttribute } = parsePatchPath(name, MAX_PATCH_PATH_LENGTH);
        return subAttribute ? `${attribute}.${subAttribute}` : attribute;
      } catch (err) {
        if (err instanceof FilterSyntaxError) {
          throw new ScimBadRequest('invalidValue', `${param} is not a list of attribute names: ${err.message}.`, err);
        }
        throw err;
      }
    })
    .join(',');
}

/**
 * `attributes` / `excludedAttributes` of the discovery endpoints, which scimmy-routers hands to scimmy's filter
 * parser as they come (`/Schemas?attributes=name.__proto__.y` wrote Object.prototype.y): checked first.
 */
export function checkAttributeParams(query: Record<string, unknown>): void {
  for (const param of ['attributes', 'excludedAttributes']) {
    const value = query[param];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw new ScimBadRequest('invalidValue', `The ${param} parameter must be given once.`);
    checkAttributeList(param, value);
  }
}

/**
 * Checked before scimmy parses a list as a filter: only plain attribute paths (no "[…]" value filters, which
 * scimmy would multiply out, no "__proto__"), and a bounded number of them.
 */
function checkAttributeList(param: string, list: string): string[] {
  if (list.length > MAX_ATTRIBUTE_LIST_LENGTH) {
    throw new ScimBadRequest('invalidValue', `${param} is longer than any list of ${MAX_ATTRIBUTE_NAMES} names.`);
  }
  const names = list
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (names.length > MAX_ATTRIBUTE_NAMES) {
    throw new ScimBadRequest('invalidValue', `${param} names more than ${MAX_ATTRIBUTE_NAMES} attributes.`);
  }
  for (const name of names) {
    try {
      checkAttributePath(name);
    } catch (err) {
      if (err instanceof FilterSyntaxError) {
        throw new ScimBadRequest('invalidValue', `${param} is not a list of attribute names: ${err.message}.`, err);
      }
      throw err;
    }
  }
  return names;
}

/** The attribute paths a resource type's schema declares, as request checks ask about them. */
export interface AttributeDeclarations {
  /** The scimmy attribute definition behind a path (`name.givenName`, URNs), or undefined when not declared. */
  attribute(path: string): Attribute | undefined;
}

export const GROUP_ATTRIBUTES: AttributeDeclarations = {
  attribute: (path) => attributeAt(groupDefinition(), path),
};

/** Does the client want an attribute? Lets a handler skip Kit calls for attributes nobody asked for. */
export function wantsAttribute(name: string, attributes?: string, excludedAttributes?: string): boolean {
  const list = (s?: string) => (s ?? '').split(',').map((a) => a.trim().toLowerCase());
  if (attributes?.trim())
    return list(attributes).some((a) => a === name.toLowerCase() || a.startsWith(`${name.toLowerCase()}.`));
  if (excludedAttributes?.trim()) return !list(excludedAttributes).includes(name.toLowerCase());
  return true;
}
