import { groupDefinition } from '../scimmy';
import '../scimmyGlobals';
import { type ResourceShape, resourceShapeOf } from './projection';
import { ProjectionCache } from './projectionCache';

// Groups as SCIM JSON without scimmy on the way out; the shape is scimmy's Group definition, as
// scimmyGlobals.ts declares it when it is first imported (the Group schema does not change with the mapping).

let shape: ResourceShape | undefined;

export function groupShape(): ResourceShape {
  shape ??= resourceShapeOf(groupDefinition());
  return shape;
}

export const groupProjections = new ProjectionCache(groupShape, '/Groups');
