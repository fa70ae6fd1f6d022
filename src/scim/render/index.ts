import { attributeFilter, renderGroup, renderUser } from '../schemas';
import type { UserSchema } from '../userSchema';
import { groupProjections } from './groupRenderer';
import { userProjections } from './userRenderer';

// Which renderer answers: the compiled one (projection.ts + resourceRenderer.ts, the default), or scimmy's Schema per
// resource (SCIM_RENDERER=scimmy), kept for the byte-equality test and for the benchmark's side by side.

export type RendererKind = 'compiled' | 'scimmy';

/**
 * Renders the resources of one answer; built once per request from its `attributes`/`excludedAttributes`.
 * `Record<string, any>`: the compiled projections are generated code reading attributes by name from any
 * resource type (typed users, groups, and the frozen objects of the page caches alike).
 */
export type RenderResource = ((resource: Record<string, any>, basepath: string) => Record<string, any>) & {
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
export function resourceRenderer(type: UserSchema | 'Group', kind: RendererKind = 'compiled'): ResourceRenderer {
  if (kind === 'scimmy') {
    return {
      prepare(attributes, excludedAttributes) {
        const filter = attributeFilter(attributes, excludedAttributes);
        // scimmy's renderers are typed per resource type; `type` picked the one that matches.
        return type === 'Group'
          ? (resource, basepath) => renderGroup(resource as never, basepath, filter)
          : (resource, basepath) => renderUser(type, resource as never, basepath, filter);
      },
    };
  }
  const projections = type === 'Group' ? groupProjections : userProjections(type);
  return {
    prepare(attributes, excludedAttributes) {
      // The checks scimmy's renderer runs too (attributeFilter refuses what schemas.ts refuses); none without lists.
      if (attributes?.trim() || excludedAttributes?.trim()) attributeFilter(attributes, excludedAttributes);
      return projections.get(attributes, excludedAttributes);
    },
  };
}
