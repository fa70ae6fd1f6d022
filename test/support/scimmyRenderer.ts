import SCIMMY from 'scimmy';
import type { RenderResource, ResourceRenderer } from '../../src/scim/render';
import type { ScimBody, ScimGroup, ScimResource, ScimUser } from '../../src/scim/resources';
import { type AttributeFilter, attributeFilter } from '../../src/scim/schemas';
import type { UserSchema } from '../../src/scim/userSchema';

// scimmy's own renderer: a scimmy Schema per resource, coerced 'out' and serialised. Production renders with
// the compiled projections (src/scim/render); this is the oracle they are compared against, byte for byte.

/** RFC 7643 §3: every resource names its schemas, whatever `attributes` asked for (scimmy drops them). */
function withSchemas(rendered: ScimBody, source: ScimResource): ScimBody {
  return rendered.schemas ? rendered : { schemas: source.schemas, ...rendered };
}

function renderUser(schema: UserSchema, user: ScimUser, basepath: string, attrs: AttributeFilter): ScimBody {
  const rendered = JSON.parse(JSON.stringify(schema.coerce(user, 'out', `${basepath}/Users`, attrs)));
  return withSchemas(rendered, user);
}

function renderGroup(group: ScimGroup, basepath: string, attrs: AttributeFilter): ScimBody {
  const rendered = JSON.parse(
    JSON.stringify(new SCIMMY.Schemas.Group(group, 'out', `${basepath}/Groups`, attrs as never)),
  );
  return withSchemas(rendered, group);
}

/** scimmy's rendering of `type` (the Group resource type, or a mapping's User schema), as a ResourceRenderer. */
export function scimmyRenderer(type: UserSchema | 'Group'): ResourceRenderer {
  return {
    prepare(attributes, excludedAttributes): RenderResource {
      const filter = attributeFilter(attributes, excludedAttributes);
      return type === 'Group'
        ? (resource, basepath) => renderGroup(resource as ScimGroup, basepath, filter)
        : (resource, basepath) => renderUser(type, resource as ScimUser, basepath, filter);
    },
  };
}
