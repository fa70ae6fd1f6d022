import type { UserSchema } from '../userSchema';
import { type ResourceShape, resourceShapeOf } from './projection';
import { ProjectionCache } from './projectionCache';

// Users as SCIM JSON without scimmy on the way out. The shape is read from the User definition of
// the mapping being served (userSchema.ts: truncated core attributes, enterprise, Kit and mapped extensions), so
// /Schemas and what a User renders cannot drift apart. Compiled once per schema: equal mappings share one.

interface Compiled {
  shape: ResourceShape;
  projections: ProjectionCache;
}

const compiled = new WeakMap<UserSchema, Compiled>();

function compiledFor(schema: UserSchema): Compiled {
  let found = compiled.get(schema);
  if (!found) {
    const shape = resourceShapeOf(schema.definition);
    found = { shape, projections: new ProjectionCache(() => shape, '/Users') };
    compiled.set(schema, found);
  }
  return found;
}

export function userShape(schema: UserSchema): ResourceShape {
  return compiledFor(schema).shape;
}

export function userProjections(schema: UserSchema): ProjectionCache {
  return compiledFor(schema).projections;
}
