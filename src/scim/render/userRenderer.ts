import SCIMMY from 'scimmy';
import { userSchemasGeneration } from '../scimmyGlobals';
import { ProjectionCache, type ResourceShape, resourceShapeOf } from './projection';

// Users as SCIM JSON without scimmy on the way out (issue #14). The shape is read from scimmy's User definition
// as scimmyGlobals.ts declares it from the attribute mapping (truncated core attributes, enterprise, Kit and
// mapped extensions), so /Schemas and what a User renders cannot drift apart: a mapping declared again (another
// SCIM_MAPPING_FILE in the same process) is read again.

let shape: { generation: number; value: ResourceShape } | undefined;

export function userShape(): ResourceShape {
  const generation = userSchemasGeneration();
  if (shape?.generation !== generation) {
    shape = { generation, value: resourceShapeOf(SCIMMY.Schemas.User.definition) };
  }
  return shape.value;
}

export const userProjections = new ProjectionCache(userShape, '/Users');
