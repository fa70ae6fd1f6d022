import type { AttributeShape, PickedAttribute, Projection, ResourceShape, Selection } from './projection';

// Our resource objects (userMapping.ts subscriberToUser, groups.ts toGroup) to SCIM JSON under a projection:
// plain loops over the projection, no per-resource schema instance, no JSON round trip. The output is the one
// scimmy's Schema + toJSON produced (same keys, order and value coercion; test/scim/render proves it byte for
// byte), for the selections scimmy rendered correctly:
// - attributes in definition order (core, then each extension), `schemas` first;
// - values coerced as scimmy coerces outbound values (strings with String(), dateTime as ISO 8601 with
//   milliseconds, booleans with !!); attributes the schema does not declare, or that hold null, are left out;
// - `meta.resourceType` is the resource type and `meta.location` the resource's URL.

type Json = Record<string, unknown>;

function coerceSimple(type: AttributeShape['type'], value: unknown): unknown {
  switch (type) {
    case 'boolean':
      return !!value;
    case 'dateTime':
      return new Date(value as string).toISOString();
    case 'decimal':
    case 'integer':
      return Number(value);
    default:
      return String(value);
  }
}

/** One complex value: its sub-attributes in definition order, as far as the selection goes. */
function renderComplex(value: Json, attribute: AttributeShape, selection: Selection): Json {
  const out: Json = {};
  if (selection === 'all') {
    for (const sub of attribute.subAttributes) {
      if (sub.returned === 'never' || sub.returned === 'request') continue;
      const v = value[sub.name];
      if (v !== undefined && v !== null) out[sub.name] = renderValue(sub, v, 'all');
    }
  } else {
    for (const picked of selection) {
      const v = value[picked.attribute.name];
      if (v !== undefined && v !== null)
        out[picked.attribute.name] = renderValue(picked.attribute, v, picked.selection);
    }
  }
  return out;
}

function renderValue(attribute: AttributeShape, value: unknown, selection: Selection): unknown {
  if (attribute.type !== 'complex') {
    return attribute.multiValued
      ? (value as unknown[]).map((v) => coerceSimple(attribute.type, v))
      : coerceSimple(attribute.type, value);
  }
  if (!attribute.multiValued) return renderComplex(value as Json, attribute, selection);
  const items = value as Json[];
  const out: Json[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = renderComplex(items[i], attribute, selection);
  // A sub-attribute selection leaves out the values that hold none of the chosen sub-attributes.
  return selection === 'all' ? out : out.filter((v) => hasKeys(v));
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

/**
 * Like scimmy: a multi-valued attribute left empty by a sub-attribute selection, or empty and named in
 * `attributes`, is left out; otherwise an empty list is sent as it is.
 */
function place(out: Json, picked: PickedAttribute, rendered: unknown): void {
  if (Array.isArray(rendered) && rendered.length === 0 && (picked.selection !== 'all' || picked.omitEmpty)) return;
  out[picked.attribute.name] = rendered;
}

function renderPicked(out: Json, source: Json, picked: readonly PickedAttribute[]): void {
  for (const p of picked) {
    const value = source[p.attribute.name];
    if (value !== undefined && value !== null) place(out, p, renderValue(p.attribute, value, p.selection));
  }
}

/** Renders one resource; `location` is the resource type's URL (`…/scim/v2/Users`). */
export function renderResource(resource: Json, projection: Projection, location: string): Json {
  const { shape } = projection;
  const id = resource.id;
  const out: Json = { schemas: schemasOf(resource, shape) };
  // The source as scimmy saw it: meta names the resource type and carries the resource's URL.
  const meta: Json = {
    ...(resource.meta as Json | undefined),
    resourceType: shape.resourceType,
    location: id ? `${location}/${id as string}` : location,
  };
  for (const p of projection.attributes) {
    const value = p.attribute.name === 'meta' ? meta : resource[p.attribute.name];
    if (value !== undefined && value !== null) place(out, p, renderValue(p.attribute, value, p.selection));
  }
  for (const { extension, selection } of projection.extensions) {
    const value = resource[extension.id] as Json | undefined;
    if (value === undefined || value === null) continue;
    const rendered: Json = {};
    if (selection === 'all') {
      for (const attribute of extension.attributes) {
        if (attribute.returned === 'never' || attribute.returned === 'request') continue;
        const v = value[attribute.name];
        if (v !== undefined && v !== null) rendered[attribute.name] = renderValue(attribute, v, 'all');
      }
    } else {
      renderPicked(rendered, value, selection);
    }
    // An extension with nothing left to say is left out, as scimmy leaves it out.
    if (hasKeys(rendered)) out[extension.id] = rendered;
  }
  return out;
}
