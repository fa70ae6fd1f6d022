import SCIMMY from 'scimmy';
import { registerScimSchemas } from '../schemas';
import { ProjectionCache, type ResourceShape, resourceShapeOf } from './projection';
import type { CompiledRender } from './resourceRenderer';

// Groups as SCIM JSON without scimmy on the way out (issue #14); the shape is scimmy's Group definition.

let shape: ResourceShape | undefined;

export function groupShape(): ResourceShape {
  if (!shape) {
    registerScimSchemas();
    shape = resourceShapeOf(SCIMMY.Schemas.Group.definition);
  }
  return shape;
}

export const groupProjections = new ProjectionCache(groupShape);

export function renderGroupResource(
  group: Record<string, any>,
  basepath: string,
  render: CompiledRender,
): Record<string, any> {
  return render(group, `${basepath}/Groups`);
}
