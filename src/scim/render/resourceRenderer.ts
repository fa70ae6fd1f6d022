import type { AttributeShape, PickedAttribute, Projection, ResourceShape, Selection } from './projection';

// Our resource objects (userMapping.ts subscriberToUser, groups.ts toGroup) to SCIM JSON under a projection.
// Each projection is compiled once into a plain function (one property read and one coercion per attribute, no
// schema walk, no per-resource scimmy instance, no JSON round trip); ProjectionCache keeps the compiled ones.
// The output is the one scimmy's Schema + toJSON produced (same keys, order and value coercion; test/scim/render
// proves it byte for byte), for the selections scimmy rendered correctly:
// - attributes in definition order (core, then each extension), `schemas` first;
// - values coerced as scimmy coerces outbound values (String(), dateTime as ISO 8601 with milliseconds, !! for
//   booleans); attributes the schema does not declare, or that hold null, are left out;
// - `meta.resourceType` is the resource type and `meta.location` the resource's URL;
// - a multi-valued attribute left empty by a sub-attribute selection, or empty and named in `attributes`, is
//   left out (an empty list is otherwise sent as it is); an extension with nothing to say is left out.
//
// The generated code only ever holds names and constants from the schema definitions, never client text:
// `attributes` lists only choose which of the schema's attributes are in the projection.

type Json = Record<string, unknown>;

/** Renders one resource; `location` is the resource type's URL (`…/scim/v2/Users`). */
export type CompiledRender = (resource: Json, location: string) => Json;

/**
 * dateTime values as scimmy wrote them (ISO 8601, UTC, milliseconds), remembered: every user carries two, and
 * parsing them again for every page served was a tenth of the rendering. Cleared when full.
 */
const isoDates = new Map<string, string>();
const MAX_REMEMBERED_DATES = 20_000;

function isoDate(value: unknown): string {
  if (typeof value !== 'string') return new Date(value as string).toISOString();
  let iso = isoDates.get(value);
  if (iso === undefined) {
    iso = new Date(value).toISOString();
    if (isoDates.size >= MAX_REMEMBERED_DATES) isoDates.clear();
    isoDates.set(value, iso);
  }
  return iso;
}

function hasKeys(value: Json): boolean {
  for (const _ in value) return true;
  return false;
}

/**
 * `schemas` as scimmy computed it: the core schema, the extensions holding data, then whatever the resource
 * listed. Our resources list exactly those already, so the common case is the resource's own array.
 */
function schemasOf(resource: Json, shape: ResourceShape): unknown[] {
  const listed = Array.isArray(resource.schemas) ? (resource.schemas as unknown[]) : [];
  let complete = listed[0] === shape.schemaId;
  for (const extension of shape.extensions) {
    if (!complete) break;
    if (resource[extension.id] !== undefined) complete = listed.includes(extension.id);
  }
  if (complete && new Set(listed).size === listed.length) return listed;
  return [
    ...new Set([
      shape.schemaId,
      ...shape.extensions.filter((e) => resource[e.id] !== undefined).map((e) => e.id),
      ...listed,
    ]),
  ];
}

/** What 'all' means for a list of attributes: every one returned by default, whole. */
function everything(attributes: readonly AttributeShape[]): PickedAttribute[] {
  return attributes
    .filter((a) => a.returned === 'default' || a.returned === 'always')
    .map((attribute) => ({ attribute, selection: 'all' as const }));
}

const picks = (selection: Selection, attributes: readonly AttributeShape[]) =>
  selection === 'all' ? everything(attributes) : selection;

/** Generates the body of one renderer. */
class Generator {
  private readonly helpers: string[] = [];

  coerce(type: AttributeShape['type'], x: string): string {
    switch (type) {
      case 'boolean':
        return `!!${x}`;
      case 'dateTime':
        return `isoDate(${x})`;
      case 'decimal':
      case 'integer':
        return `Number(${x})`;
      default:
        return `String(${x})`;
    }
  }

  /** A helper function rendering one complex value under a selection; returns its name. */
  complex(attribute: AttributeShape, selection: Selection): string {
    const name = `c${this.helpers.length}`;
    this.helpers.push(''); // reserve the slot: nested helpers are generated while this one is
    const lines = [`function ${name}(v) {`, '  const o = {};', '  let x;'];
    for (const p of picks(selection, attribute.subAttributes)) lines.push(...this.assign(p, 'v', 'o', '  '));
    lines.push('  return o;', '}');
    this.helpers[Number(name.slice(1))] = lines.join('\n');
    return name;
  }

  /** Statements copying one attribute from `source` into `out`, coerced and projected. */
  assign(picked: PickedAttribute, source: string, out: string, indent: string): string[] {
    const { attribute, selection } = picked;
    const key = JSON.stringify(attribute.name);
    const lines = [`${indent}x = ${source}[${key}];`, `${indent}if (x !== undefined && x !== null) {`];
    const i = `${indent}  `;
    if (!attribute.multiValued) {
      const value =
        attribute.type === 'complex' ? `${this.complex(attribute, selection)}(x)` : this.coerce(attribute.type, 'x');
      lines.push(`${i}${out}[${key}] = ${value};`);
    } else {
      const one =
        attribute.type === 'complex'
          ? `${this.complex(attribute, selection)}(x[i])`
          : this.coerce(attribute.type, 'x[i]');
      lines.push(`${i}let a = new Array(x.length);`, `${i}for (let i = 0; i < x.length; i++) a[i] = ${one};`);
      // A sub-attribute selection leaves out the values that hold none of the chosen sub-attributes.
      if (attribute.type === 'complex' && selection !== 'all') lines.push(`${i}a = a.filter(hasKeys);`);
      if (selection !== 'all' || picked.omitEmpty) lines.push(`${i}if (a.length !== 0) ${out}[${key}] = a;`);
      else lines.push(`${i}${out}[${key}] = a;`);
    }
    lines.push(`${indent}}`);
    return lines;
  }

  /** meta: the resource's own stamps, with the resource type and the URL scimmy put in. */
  meta(picked: PickedAttribute, resourceType: string): string[] {
    const lines = ['  {', '    const m = r.meta || {};', '    const o = {};'];
    for (const p of picks(picked.selection, picked.attribute.subAttributes)) {
      const key = JSON.stringify(p.attribute.name);
      if (p.attribute.name === 'resourceType') lines.push(`    o[${key}] = ${JSON.stringify(resourceType)};`);
      else if (p.attribute.name === 'location') lines.push(`    o[${key}] = id ? location + "/" + id : location;`);
      else lines.push(...this.assign(p, 'm', 'o', '    '));
    }
    lines.push('    out.meta = o;', '  }');
    return lines;
  }

  render(projection: Projection): string {
    const body = ['const id = r.id;', 'const out = { schemas: schemasOf(r, shape) };', 'let x;'].map((l) => `  ${l}`);
    for (const p of projection.attributes) {
      if (p.attribute.name === 'meta' && p.attribute.type === 'complex')
        body.push(...this.meta(p, projection.shape.resourceType));
      else body.push(...this.assign(p, 'r', 'out', '  '));
    }
    for (const { extension, selection } of projection.extensions) {
      const key = JSON.stringify(extension.id);
      body.push(`  x = r[${key}];`, '  if (x !== undefined && x !== null) {', '    const v = x;', '    const e = {};');
      for (const p of picks(selection, extension.attributes)) body.push(...this.assign(p, 'v', 'e', '    '));
      // An extension with nothing left to say is left out, as scimmy leaves it out.
      body.push(`    if (hasKeys(e)) out[${key}] = e;`, '  }');
    }
    body.push('  return out;');
    return [...this.helpers, `return function render(r, location) {\n${body.join('\n')}\n};`].join('\n');
  }
}

/** Compiles a projection into its renderer (once per distinct selection: see ProjectionCache). */
export function compileRenderer(projection: Projection): CompiledRender {
  const source = new Generator().render(projection);
  // Built from schema names and constants only (see the header comment), never from client text.
  const factory = new Function('isoDate', 'hasKeys', 'schemasOf', 'shape', source) as (
    ...args: unknown[]
  ) => CompiledRender;
  return factory(isoDate, hasKeys, schemasOf, projection.shape);
}
