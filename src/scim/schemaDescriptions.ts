import SCIMMY from 'scimmy';
import type { UserSchema } from './userSchema';

// /Schemas and /ResourceTypes (RFC 7643 §6, §7) of one User schema. scimmy's Schema and ResourceType
// resources read its process-wide registry, which holds one User schema for the whole process; these read the
// same things from the schema being served, in scimmy's order and shapes (its resources/schema.js and
// resources/resourcetype.js), so what a client sees is what scimmy answers for a process with one mapping.

type Query = Record<string, string | undefined>;

const Resources = SCIMMY.Resources as any;

/** scimmy's own checks of the query (a filter is a 403, RFC 7644 §4), made as its resources make them. */
function checked(resource: 'Schema' | 'ResourceType', query: Query, id?: string): void {
  if (id === undefined) new Resources[resource](query);
  else new Resources[resource](id, query);
}

/** Definitions in scimmy's declaration order: resource types' schemas (User, Group), then the extensions. */
function definitions(schema: UserSchema): any[] {
  return [schema.definition, SCIMMY.Schemas.Group.definition, ...schema.extensions];
}

export function schemaList(schema: UserSchema, query: Query): unknown {
  checked('Schema', query);
  const basepath = Resources.Schema.basepath();
  return new SCIMMY.Messages.ListResponse(definitions(schema).map((d) => d.describe(basepath)));
}

export function schemaById(schema: UserSchema, id: string, query: Query): unknown {
  checked('Schema', query, id);
  // scimmy finds a schema by its declared name or by its id, spelled exactly.
  const found = definitions(schema).find((d) => d.id === id || d.name === id);
  if (!found) throw new SCIMMY.Types.Error(404, null as any, `Schema ${id} not found`);
  return found.describe(Resources.Schema.basepath());
}

function resourceTypes(schema: UserSchema): Record<string, () => Record<string, any>> {
  return { User: () => schema.resourceType(), Group: () => Resources.Group.describe() };
}

export function resourceTypeList(schema: UserSchema, query: Query): unknown {
  checked('ResourceType', query);
  const basepath = Resources.ResourceType.basepath();
  return new SCIMMY.Messages.ListResponse(
    Object.values(resourceTypes(schema)).map((describe) => new SCIMMY.Schemas.ResourceType(describe(), basepath)),
  );
}

export function resourceTypeById(schema: UserSchema, id: string, query: Query): unknown {
  checked('ResourceType', query, id);
  const describe = Object.hasOwn(resourceTypes(schema), id) ? resourceTypes(schema)[id] : undefined;
  if (!describe) throw new SCIMMY.Types.Error(404, null as any, `ResourceType ${id} not found`);
  return new SCIMMY.Schemas.ResourceType(describe(), Resources.ResourceType.basepath());
}
