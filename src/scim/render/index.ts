import { attributeFilter } from '../schemas';
import type { ScimBody } from '../resources';
import type { UserSchema } from '../userSchema';
import { groupProjections } from './groupRenderer';
import { userProjections } from './userRenderer';

// Resources are rendered by compiled projections (projection.ts + resourceRenderer.ts). scimmy's own renderer
// (a scimmy Schema per resource) is only the tests' oracle: test/support/scimmyRenderer.ts.

/**
 * Renders the resources of one answer; built once per request from its `attributes`/`excludedAttributes`.
 * `object` in: the compiled projections are generated code reading attributes by name from any resource type
 * (typed users, groups, and the frozen objects of the page caches alike); a JSON object out.
 */
export type RenderResource = ((resource: object, basepath: string) => ScimBody) & {
  /**
   * The same function for the same selection on every request, whose output depends on its arguments only: a
   * list answer may then keep the text it made of a resource that cannot change (http/listFragments.ts).
   */
  pure?: boolean;
};

export interface ResourceRenderer {
  /**
   * Checks the lists (a bad one is a 400, before any Kit call) and prepares what every resource of the answer
   * is rendered with.
   */
  prepare(attributes?: string, excludedAttributes?: string): RenderResource;
}

/** `type`: the Group resource type, or the User schema of the mapping being served (userSchema.ts). */
export function resourceRenderer(type: UserSchema | 'Group'): ResourceRenderer {
  const projections = type === 'Group' ? groupProjections : userProjections(type);
  return {
    prepare(attributes, excludedAttributes) {
      // The checks scimmy's renderer runs too (attributeFilter refuses what schemas.ts refuses); none without lists.
      if (attributes?.trim() || excludedAttributes?.trim()) attributeFilter(attributes, excludedAttributes);
      return projections.get(attributes, excludedAttributes);
    },
  };
}
