import { type Attribute, isExtension, membersOf, type SchemaDefinition } from '../scimmy';

// RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes` as a projection: decided once per request from the schema
// definitions (the mapping's User schema, userSchema.ts, and scimmy's Group), compiled into a plain
// render function (resourceRenderer.ts) and applied to every resource of the answer. Building a scimmy Schema per
// resource instead costs ~0.2 ms each, most of a cached page's time.
//
// RFC 7643 §7 `returned`: "always" attributes (id) are in every answer, "never" ones (password) in none,
// "request" ones only when named in `attributes`, "default" ones unless excluded. Names compare without regard to
// letter case (RFC 7643 §2.1); extension attributes are named by their schema URN (`urn:…:User:department`), a
// bare URN names the whole extension. Names the schema does not declare are ignored.

export type Returned = 'always' | 'never' | 'default' | 'request';
export type ValueType = 'string' | 'reference' | 'binary' | 'boolean' | 'dateTime' | 'decimal' | 'integer' | 'complex';

/** One attribute as the renderer needs it: canonical name, how to coerce its value, when to return it. */
export interface AttributeShape {
  readonly name: string;
  readonly type: ValueType;
  readonly multiValued: boolean;
  readonly returned: Returned;
  /** Sub-attributes of a complex attribute, in definition order (the order scimmy renders them in). */
  readonly subAttributes: readonly AttributeShape[];
}

export interface ExtensionShape {
  readonly id: string;
  readonly attributes: readonly AttributeShape[];
}

/** A resource type's schema: core attributes (the common id/externalId/meta first) and its extensions. */
export interface ResourceShape {
  readonly schemaId: string;
  readonly resourceType: string;
  readonly attributes: readonly AttributeShape[];
  readonly extensions: readonly ExtensionShape[];
}

/**
 * What to render of a complex value or an extension: `'all'` (every attribute returned by default) or the
 * chosen attributes, each with what to render of it, in definition order.
 */
export type Selection = 'all' | readonly PickedAttribute[];

export interface PickedAttribute {
  readonly attribute: AttributeShape;
  readonly selection: Selection;
  /** Named in `attributes`: an empty multi-valued attribute is then left out rather than sent as `[]`. */
  readonly omitEmpty?: boolean;
}

/** The plan for one request: which top-level attributes and extensions, and how much of each. */
export interface Projection {
  readonly shape: ResourceShape;
  readonly attributes: readonly PickedAttribute[];
  readonly extensions: ReadonlyArray<{ readonly extension: ExtensionShape; readonly selection: Selection }>;
}

function returnedOf(config: { returned?: unknown; direction?: unknown }): Returned {
  // An attribute only ever read (scimmy's direction "in", e.g. password) is never written out.
  if (config.direction === 'in') return 'never';
  if (typeof config.returned === 'string') return config.returned as Returned;
  return config.returned === false ? 'never' : 'default';
}

function attributeShape(attribute: Attribute): AttributeShape {
  return Object.freeze({
    name: attribute.name,
    type: String(attribute.type) as ValueType,
    multiValued: Boolean(attribute.config.multiValued),
    returned: returnedOf(attribute.config),
    subAttributes: Object.freeze(
      String(attribute.type) === 'complex' ? (attribute.subAttributes ?? []).map(attributeShape) : [],
    ),
  });
}

/** Reads a scimmy schema definition (a mapping's User, truncated and extended; the Group) into a plain shape. */
export function resourceShapeOf(definition: SchemaDefinition): ResourceShape {
  const attributes: AttributeShape[] = [];
  const extensions: ExtensionShape[] = [];
  for (const attribute of membersOf(definition)) {
    if (isExtension(attribute)) {
      const extension = attribute;
      extensions.push(
        Object.freeze({
          id: extension.id,
          attributes: Object.freeze(extension.attributes.map(attributeShape)),
        }),
      );
    } else if (attribute.name !== 'schemas') {
      // `schemas` is rendered by the renderer itself: every resource names its schemas (RFC 7643 §3).
      attributes.push(attributeShape(attribute));
    }
  }
  return Object.freeze({
    schemaId: definition.id,
    resourceType: definition.name,
    attributes: Object.freeze(attributes),
    extensions: Object.freeze(extensions),
  });
}

/** A name asked for: a path into the core schema or into one extension (empty path: the whole extension). */
interface Named {
  extension?: ExtensionShape;
  path: string[];
}

function resolve(shape: ResourceShape, raw: string): Named | undefined {
  const name = raw.trim();
  const lower = name.toLowerCase();
  if (lower.startsWith('urn:')) {
    const extension = shape.extensions.find(
      (e) => lower === e.id.toLowerCase() || lower.startsWith(`${e.id.toLowerCase()}:`),
    );
    if (extension) {
      const rest = name.slice(extension.id.length + 1);
      return { extension, path: rest ? rest.split('.') : [] };
    }
    // The core schema's own URN may qualify a core attribute (`urn:…:core:2.0:User:userName`).
    if (lower.startsWith(`${shape.schemaId.toLowerCase()}:`)) {
      return { path: name.slice(shape.schemaId.length + 1).split('.') };
    }
    return undefined;
  }
  return { path: name.split('.') };
}

const find = (attributes: readonly AttributeShape[], name: string) => {
  const lower = name.toLowerCase();
  return attributes.find((a) => a.name.toLowerCase() === lower);
};

/**
 * A mutable tree of the names asked for, per attribute list: `true` means the whole attribute, a map means
 * only some of its sub-attributes. Unknown names never enter it.
 */
type NameTree = Map<AttributeShape, true | NameTree>;

function addPath(tree: NameTree, attributes: readonly AttributeShape[], path: string[]): void {
  const attribute = find(attributes, path[0]);
  if (!attribute) return;
  if (path.length === 1) {
    tree.set(attribute, true);
    return;
  }
  if (attribute.type !== 'complex' || !find(attribute.subAttributes, path[1]) || path.length > 2) return;
  const existing = tree.get(attribute);
  if (existing === true) return;
  const sub: NameTree = existing ?? new Map();
  tree.set(attribute, sub);
  addPath(sub, attribute.subAttributes, path.slice(1));
}

/** `attributes`: what was named (whole or in part), plus what is always returned. */
function included(attributes: readonly AttributeShape[], named: NameTree | true): PickedAttribute[] {
  const picked: PickedAttribute[] = [];
  for (const attribute of attributes) {
    if (attribute.returned === 'never') continue;
    const asked = named === true ? (attribute.returned === 'request' ? undefined : true) : named.get(attribute);
    if (attribute.returned === 'always' || asked === true) {
      picked.push(
        named !== true && asked === true
          ? { attribute, selection: 'all', omitEmpty: true }
          : { attribute, selection: 'all' },
      );
    } else if (asked) {
      picked.push({ attribute, selection: included(attribute.subAttributes, asked) });
    }
  }
  return picked;
}

/** `excludedAttributes`: everything returned by default, less what was named (whole or in part). */
function excluded(attributes: readonly AttributeShape[], named: NameTree): PickedAttribute[] {
  const picked: PickedAttribute[] = [];
  for (const attribute of attributes) {
    if (attribute.returned === 'never' || attribute.returned === 'request') continue;
    const dropped = named.get(attribute);
    if (attribute.returned === 'always' || dropped === undefined) picked.push({ attribute, selection: 'all' });
    else if (dropped !== true) picked.push({ attribute, selection: excluded(attribute.subAttributes, dropped) });
  }
  return picked;
}

const isAll = (picked: readonly PickedAttribute[], attributes: readonly AttributeShape[]) =>
  picked.length === attributes.filter((a) => a.returned === 'default' || a.returned === 'always').length &&
  picked.every((p) => p.selection === 'all');

/** Collapses a selection equal to "everything returned by default" into 'all', the renderer's fast path. */
function simplify(picked: PickedAttribute[], attributes: readonly AttributeShape[]): Selection {
  return isAll(picked, attributes) ? 'all' : picked;
}

/**
 * The projection for one request. `attributes` wins over `excludedAttributes` when both are given, as
 * scimmy's handlers read them. The lists were checked (length, syntax, prototype keys) by schemas.ts.
 */
export function projectionOf(shape: ResourceShape, attributes?: string, excludedAttributes?: string): Projection {
  const include = Boolean(attributes?.trim());
  const list = include ? attributes! : (excludedAttributes ?? '');
  const core: NameTree = new Map();
  const perExtension = new Map<ExtensionShape, NameTree | true>();
  for (const raw of list.split(',')) {
    if (!raw.trim()) continue;
    const named = resolve(shape, raw);
    if (!named) continue;
    if (!named.extension) {
      addPath(core, shape.attributes, named.path);
    } else if (named.path.length === 0) {
      perExtension.set(named.extension, true);
    } else {
      const existing = perExtension.get(named.extension);
      if (existing === true) continue;
      const tree: NameTree = existing ?? new Map();
      perExtension.set(named.extension, tree);
      addPath(tree, named.extension.attributes, named.path);
    }
  }
  const noList = !include && !excludedAttributes?.trim();
  const attributesPicked = noList
    ? included(shape.attributes, true)
    : include
      ? included(shape.attributes, core)
      : excluded(shape.attributes, core);
  const extensions: Array<{ extension: ExtensionShape; selection: Selection }> = [];
  for (const extension of shape.extensions) {
    const named = perExtension.get(extension);
    if (noList) {
      extensions.push({ extension, selection: 'all' });
    } else if (include) {
      // An extension nobody named is not returned; a named one, whole or in part.
      if (named === undefined) continue;
      extensions.push({ extension, selection: simplify(included(extension.attributes, named), extension.attributes) });
    } else if (named !== true) {
      const picked = named ? excluded(extension.attributes, named) : included(extension.attributes, true);
      extensions.push({ extension, selection: simplify(picked, extension.attributes) });
    }
  }
  return Object.freeze({
    shape,
    attributes: Object.freeze(
      attributesPicked.map((p) =>
        p.selection === 'all'
          ? p
          : { attribute: p.attribute, selection: simplify([...p.selection], p.attribute.subAttributes) },
      ),
    ),
    extensions: Object.freeze(extensions),
  });
}
