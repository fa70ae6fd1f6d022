import {
  type CatalogAttribute,
  CORE_USER,
  CORE_USER_ATTRIBUTES,
  ENTERPRISE_USER,
  ENTERPRISE_USER_ATTRIBUTES,
} from '../config/mapping/catalog';
import type { AttributeDeclarations } from './schemas';

// Attributes RFC 7643 defines for a User (core §4.1, enterprise §4.3) that the attribute mapping gives no home in
// Kit: `locale` under the default mapping, say. IdPs send them whatever the server's /Schemas says, in every kind
// of write, so one rule covers POST, PUT and PATCH: ignored (and named in the audit record), or refused.
// A name that is no SCIM attribute at all is not "unmapped": a PATCH path naming it stays an invalid path.

/**
 * An unmapped path names an RFC 7643 attribute, so it is at most an extension URN, a name and a sub-attribute:
 * quoted whole in an error detail, never clipped mid-name.
 */
export const FULL_PATH = 120;

/** What a write does with an unmapped attribute (SCIM_UNMAPPED_ATTRIBUTES). */
export type UnmappedPolicy = 'ignore' | 'refuse';

const SCHEMAS: Array<[urn: string, attributes: readonly CatalogAttribute[]]> = [
  [CORE_USER, CORE_USER_ATTRIBUTES],
  [ENTERPRISE_USER, ENTERPRISE_USER_ATTRIBUTES],
];

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Does `path` (`locale`, `name.middleName`, `<URN>:manager`, `<URN>:manager.displayName`) name an RFC 7643 User attribute? */
export function isUserSchemaAttribute(path: string): boolean {
  for (const [urn, attributes] of SCHEMAS) {
    let rest = path;
    if (rest.toLowerCase().startsWith(`${urn.toLowerCase()}:`)) rest = rest.slice(urn.length + 1);
    else if (urn !== CORE_USER) continue;
    const [name, sub, ...more] = rest.split('.');
    if (more.length) continue;
    const attribute = attributes.find((a) => same(a.name, name));
    if (!attribute) continue;
    if (sub === undefined || attribute.subAttributes?.some((s) => same(s.name, sub))) return true;
  }
  return false;
}

/** An attribute RFC 7643 defines that this mapping's schema does not declare. */
export function isUnmapped(path: string, schema: AttributeDeclarations): boolean {
  return !schema.attribute(path) && isUserSchemaAttribute(path);
}

const carriesValue = (v: unknown) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== '';

/** A User body's unmapped attributes (full paths), and the body without them. */
export interface UnmappedSplit {
  paths: string[];
  kept: Record<string, unknown>;
}

/**
 * The full paths of the unmapped attributes a User body (a POST or PUT body, a path-less PATCH value) carries
 * values for, and the body without them. Nulls and empty lists are no values (Entra sends
 * `honorificPrefix: null`, `roles: []`).
 */
export function splitUnmapped(
  body: Record<string, unknown>,
  schema: AttributeDeclarations,
  extensions: readonly string[],
): UnmappedSplit {
  const paths: string[] = [];
  const found = (path: string) => {
    if (!paths.includes(path)) paths.push(path);
  };
  const withoutSubs = (path: string, item: unknown): unknown => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(
      Object.entries(item as Record<string, unknown>).filter(([sub, subValue]) => {
        const unmapped = carriesValue(subValue) && isUnmapped(`${path}.${sub}`, schema);
        if (unmapped) found(`${path}.${sub}`);
        return !unmapped;
      }),
    );
  };
  const visit = (prefix: string, value: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(value).flatMap(([key, v]): Array<[string, unknown]> => {
        if (!carriesValue(v)) return [[key, v]];
        const path = `${prefix}${key}`;
        if (isUnmapped(path, schema)) {
          found(path);
          return [];
        }
        // Sub-attributes of a declared complex attribute (`name.middleName` where only name.givenName is mapped).
        if (schema.attribute(path) && typeof v === 'object') {
          return [[key, Array.isArray(v) ? v.map((item) => withoutSubs(path, item)) : withoutSubs(path, v)]];
        }
        return [[key, v]];
      }),
    );
  // Built from entries, never by assignment: a client's `__proto__` key stays a key, not a prototype.
  const kept = Object.fromEntries(
    Object.entries(body).flatMap(([key, value]): Array<[string, unknown]> => {
      const urn = [ENTERPRISE_USER, ...extensions].find((u) => same(u, key));
      if (urn !== undefined && value && typeof value === 'object' && !Array.isArray(value)) {
        return [[key, visit(`${urn}:`, value as Record<string, unknown>)]];
      }
      if (key.includes(':')) return [[key, value]];
      return Object.entries(visit('', Object.fromEntries([[key, value]])));
    }),
  );
  return { paths, kept };
}
