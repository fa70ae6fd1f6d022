import SCIMMY from 'scimmy';
import { registerScimSchemas } from '../schemas';
import { ProjectionCache, type ResourceShape, resourceShapeOf } from './projection';

// Groups as SCIM JSON without scimmy on the way out (issue #14); the shape is scimmy's Group definition.

let shape: ResourceShape | undefined;

export function groupShape(): ResourceShape {
  if (!shape) {
    registerScimSchemas();
    shape = resourceShapeOf(SCIMMY.Schemas.Group.definition);
  }
  return shape;
}

export const groupProjections = new ProjectionCache(groupShape, '/Groups');
