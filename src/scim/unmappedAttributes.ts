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

const carriesValue = (v: unknown) =>
  v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== '';

/**
 * The full paths of the unmapped attributes a User body (a POST or PUT body, a path-less PATCH value) carries
 * values for. Nulls and empty lists are no values (Entra sends `honorificPrefix: null`, `roles: []`).
 */
export function unmappedIn(body: unknown, schema: AttributeDeclarations, extensions: readonly string[]): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const found: string[] = [];
  const visit = (prefix: string, value: Record<string, unknown>) => {
    for (const [key, v] of Object.entries(value)) {
      if (!carriesValue(v)) continue;
      const path = `${prefix}${key}`;
      if (isUnmapped(path, schema)) {
        found.push(path);
        continue;
      }
      // Sub-attributes of a declared complex attribute (`name.middleName` where only name.givenName is mapped).
      if (schema.attribute(path) && typeof v === 'object') {
        for (const item of Array.isArray(v) ? v : [v]) {
          if (item && typeof item === 'object' && !Array.isArray(item)) {
            for (const [sub, subValue] of Object.entries(item as Record<string, unknown>)) {
              const subPath = `${path}.${sub}`;
              if (carriesValue(subValue) && isUnmapped(subPath, schema) && !found.includes(subPath)) found.push(subPath);
            }
          }
        }
      }
    }
  };
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const urn = [ENTERPRISE_USER, ...extensions].find((u) => same(u, key));
    if (urn !== undefined) {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        visit(`${urn}:`, value as Record<string, unknown>);
      }
      continue;
    }
    if (key.includes(':')) continue;
    visit('', { [key]: value });
  }
  return found;
}
