import SCIMMY from 'scimmy';
import { registerScimSchemas } from '../schemas';
import { ProjectionCache, type ResourceShape, resourceShapeOf } from './projection';

// Users as SCIM JSON without scimmy on the way out (issue #14). The shape is read from scimmy's User definition
// after start-up registration (truncated core attributes, enterprise and Kit extensions), so /Schemas and what
// a User renders cannot drift apart.

let shape: ResourceShape | undefined;

export function userShape(): ResourceShape {
  if (!shape) {
    registerScimSchemas();
    shape = resourceShapeOf(SCIMMY.Schemas.User.definition);
  }
  return shape;
}

export const userProjections = new ProjectionCache(userShape, '/Users');
