import { isForbiddenSegment } from '../../platform/forbiddenKeys';
import { type CatalogAttribute, CORE_USER, type ValueType } from './catalog';
import type { SourcePath } from './model';

// SCIM attribute paths as the mapping file names them, and reading/writing them on a SCIM User body. The
// grammar is deliberately small (no general filters): `attr`, `attr.sub`, `attr[type eq "x"]`,
// `attr[type eq "x"].sub`, each optionally prefixed by a schema URN and a colon. Read by splitting, never by a
// backtracking pattern.

export type SchemaLookup = (urn: string) => readonly CatalogAttribute[] | undefined;

const NAME = /^[A-Za-z$][\w$-]*$/;
const TYPE_FILTER = /^\[type eq "([^"\\]{1,64})"\]$/;

const lower = (s: string) => s.toLowerCase();

/** A resolved path with the type of the value it names, or a reason it names nothing storable. */
export function resolveSourcePath(
  text: string,
  schemaOf: SchemaLookup,
): { path: SourcePath; type: ValueType } | { error: string } {
  if (text.length > 256) return { error: 'is longer than 256 characters' };
  let rest = text.trim();
  let schema = CORE_USER;
  const bracket = rest.indexOf('[');
  const head = bracket === -1 ? rest : rest.slice(0, bracket);
  if (lower(head).startsWith('urn:')) {
    const colon = head.lastIndexOf(':');
    const urn = head.slice(0, colon);
    if (schemaOf(urn) === undefined)
      return { error: `names the schema "${urn}", which is neither core, enterprise nor declared` };
    schema = urn;
    rest = rest.slice(colon + 1);
  }
  const attributes = schemaOf(schema)!;
  let filterText: string | undefined;
  let attrText = rest;
  let subText: string | undefined;
  const open = rest.indexOf('[');
  if (open !== -1) {
    const close = rest.indexOf(']', open);
    if (close === -1) return { error: 'has an unclosed "["' };
    attrText = rest.slice(0, open);
    filterText = rest.slice(open, close + 1);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith('.')) return { error: 'may only continue with ".sub" after "[…]"' };
    subText = after ? after.slice(1) : undefined;
  } else if (rest.includes('.')) {
    [attrText, subText] = [rest.slice(0, rest.indexOf('.')), rest.slice(rest.indexOf('.') + 1)];
  }
  for (const part of [attrText, subText].filter((p): p is string => p !== undefined)) {
    if (!NAME.test(part) || isForbiddenSegment(part)) return { error: `has "${part}", which is no attribute name` };
  }
  const attribute = attributes.find((a) => lower(a.name) === lower(attrText));
  if (!attribute) return { error: `"${attrText}" is not an attribute of ${schema}` };
  let typeValue: string | undefined;
  if (filterText !== undefined) {
    const m = TYPE_FILTER.exec(filterText);
    if (!m) return { error: 'may only select by type: attr[type eq "work"]' };
    if (!attribute.multiValued || !attribute.subAttributes?.some((s) => s.name === 'type'))
      return { error: `"${attribute.name}" has no typed values to select from` };
    typeValue = m[1];
  }
  let sub: CatalogAttribute | undefined;
  if (subText !== undefined) {
    sub = attribute.subAttributes?.find((s) => lower(s.name) === lower(subText));
    if (!sub) return { error: `"${subText}" is not a sub-attribute of "${attribute.name}"` };
    if (attribute.multiValued && typeValue === undefined)
      return {
        error: `"${attribute.name}" holds several values: say which, e.g. ${attribute.name}[type eq "work"].${sub.name}`,
      };
  }
  const prefix = schema === CORE_USER ? '' : `${schema}:`;
  const path: SourcePath = {
    text: `${prefix}${attribute.name}${typeValue !== undefined ? `[type eq "${typeValue}"]` : ''}${sub ? `.${sub.name}` : ''}`,
    schema,
    attribute: attribute.name,
    ...(typeValue !== undefined ? { typeValue } : {}),
    ...(sub ? { sub: sub.name } : {}),
  };
  const type: ValueType = sub
    ? sub.type
    : typeValue !== undefined || attribute.multiValued
      ? 'complex'
      : attribute.type;
  return { path, type };
}

type Body = Record<string, unknown>;
const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

function container(user: Body, path: SourcePath): Body | undefined {
  if (path.schema === CORE_USER) return user;
  const ext = user[path.schema];
  return isObject(ext) ? ext : undefined;
}

/** The value a path names in a SCIM User body (coerced by its schema, so names are canonical). */
export function readSource(user: Body, path: SourcePath): unknown {
  const value = container(user, path)?.[path.attribute];
  if (path.typeValue !== undefined) {
    if (!Array.isArray(value)) return undefined;
    const item = value.find((v) => isObject(v) && lower(String(v.type ?? '')) === lower(path.typeValue!));
    return path.sub === undefined ? item : isObject(item) ? item[path.sub] : undefined;
  }
  if (path.sub !== undefined) return isObject(value) ? value[path.sub] : undefined;
  return value;
}

/** Puts a value (decoded from Kit) where a path names it, creating the extension, object or typed item. */
export function writeSource(user: Body, path: SourcePath, value: unknown): void {
  let holder = user;
  if (path.schema !== CORE_USER) {
    if (!isObject(user[path.schema])) user[path.schema] = {};
    holder = user[path.schema] as Body;
  }
  if (path.typeValue !== undefined) {
    if (!Array.isArray(holder[path.attribute])) holder[path.attribute] = [];
    const items = holder[path.attribute] as Body[];
    let item = items.find((v) => isObject(v) && lower(String(v.type ?? '')) === lower(path.typeValue!));
    if (!item) {
      item = { type: path.typeValue };
      items.push(item);
    }
    if (path.sub === undefined) {
      if (isObject(value)) Object.assign(item, value, { type: item.type });
    } else item[path.sub] = value;
    return;
  }
  if (path.sub !== undefined) {
    if (!isObject(holder[path.attribute])) holder[path.attribute] = {};
    (holder[path.attribute] as Body)[path.sub] = value;
    return;
  }
  holder[path.attribute] = value;
}

/** Whether two paths overlap (one names part of what the other names), so one value would have two homes. */
export function overlaps(a: SourcePath, b: SourcePath): boolean {
  if (a.schema !== b.schema || a.attribute !== b.attribute) return false;
  if (a.typeValue === undefined && a.sub === undefined) return true;
  if (b.typeValue === undefined && b.sub === undefined) return true;
  if (a.typeValue !== undefined && b.typeValue !== undefined && lower(a.typeValue) !== lower(b.typeValue)) return false;
  return a.sub === undefined || b.sub === undefined || a.sub === b.sub;
}
