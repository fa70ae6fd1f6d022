import {
  checkDiscoveryQuery,
  type Description,
  discoveryBasepath,
  groupDefinition,
  groupResourceType,
  listResponse,
  notFound,
  resourceTypeDescription,
  type SchemaDefinition,
} from './scimmy';
import type { UserSchema } from './userSchema';

// /Schemas and /ResourceTypes (RFC 7643 §6, §7) of one User schema. scimmy's Schema and ResourceType
// resources read its process-wide registry, which holds one User schema for the whole process; these read the
// same things from the schema being served, in scimmy's order and shapes (its resources/schema.js and
// resources/resourcetype.js), so what a client sees is what scimmy answers for a process with one mapping.

type Query = Record<string, string | undefined>;

/** Definitions in scimmy's declaration order: resource types' schemas (User, Group), then the extensions. */
function definitions(schema: UserSchema): SchemaDefinition[] {
  return [schema.definition, groupDefinition(), ...schema.extensions];
}

export function schemaList(schema: UserSchema, query: Query): unknown {
  checkDiscoveryQuery('Schema', query);
  const basepath = discoveryBasepath('Schema');
  return listResponse(definitions(schema).map((d) => schema.describeDefinition(d, basepath)));
}

export function schemaById(schema: UserSchema, id: string, query: Query): unknown {
  checkDiscoveryQuery('Schema', query, id);
  // scimmy finds a schema by its declared name or by its id, spelled exactly.
  const found = definitions(schema).find((d) => d.id === id || d.name === id);
  if (!found) throw notFound(`Schema ${id} not found`);
  return schema.describeDefinition(found, discoveryBasepath('Schema'));
}

function resourceTypes(schema: UserSchema): Record<string, () => Description> {
  return { User: () => schema.resourceType(), Group: () => groupResourceType() };
}

export function resourceTypeList(schema: UserSchema, query: Query): unknown {
  checkDiscoveryQuery('ResourceType', query);
  const basepath = discoveryBasepath('ResourceType');
  return listResponse(
    Object.values(resourceTypes(schema)).map((describe) => resourceTypeDescription(describe(), basepath)),
  );
}

export function resourceTypeById(schema: UserSchema, id: string, query: Query): unknown {
  checkDiscoveryQuery('ResourceType', query, id);
  const describe = Object.hasOwn(resourceTypes(schema), id) ? resourceTypes(schema)[id] : undefined;
  if (!describe) throw notFound(`ResourceType ${id} not found`);
  return resourceTypeDescription(describe(), discoveryBasepath('ResourceType'));
}
