import SCIMMY from 'scimmy';

// The one module that reaches past scimmy's typed surface: its process-wide state (the schema registry, the
// service provider configuration) and what its typings leave out (extensions kept among a definition's
// attributes, a Schema class over a definition of our own, the resources' list constructors, PatchOp's
// untyped message). Everything else in the server uses the typed functions here, so `any` stays in this file.

export type SchemaDefinition = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;
export type Attribute = InstanceType<typeof SCIMMY.Types.Attribute>;
export type AttributeConfig = Attribute['config'];
export type Filter = InstanceType<typeof SCIMMY.Types.Filter>;
/** A coerced User: scimmy's Schema instance (what PatchOp patches, what JSON.stringify renders). */
export type UserResource = InstanceType<typeof SCIMMY.Types.Schema>;
export type UserResourceClass = new (
  data: object,
  direction?: string,
  basepath?: string,
  filter?: Filter,
) => UserResource;
/** What scimmy's describe() answers (a schema, a resource type), as JSON. */
export type Description = Record<string, unknown>;

export function isExtension(member: Attribute | SchemaDefinition): member is SchemaDefinition {
  return member instanceof SCIMMY.Types.SchemaDefinition;
}

/** A definition's members: its attributes and, once extended, the extensions' definitions (scimmy keeps both). */
export function membersOf(definition: SchemaDefinition): Array<Attribute | SchemaDefinition> {
  return definition.attributes as Array<Attribute | SchemaDefinition>;
}

/** The extensions a definition was extended with, in declaration order. */
export function extensionsOf(definition: SchemaDefinition): SchemaDefinition[] {
  return membersOf(definition).filter(isExtension);
}

/** The attribute definition behind a path in a schema definition (extensions included), if any. */
export function attributeAt(definition: SchemaDefinition, path: string): Attribute | undefined {
  try {
    const found = definition.attribute<Attribute | SchemaDefinition>(path);
    // A bare extension URN names the extension itself, not an attribute.
    return isExtension(found) ? undefined : found;
  } catch {
    return undefined;
  }
}

/** Removes attributes (and `name.sub` sub-attributes) from a definition, in place. */
export function truncate(definition: SchemaDefinition, paths: string[]): void {
  if (paths.length) definition.truncate(...paths);
}

/** The core User and enterprise extension definitions as scimmy ships them (its registry's own). */
export function builtInUserDefinitions(): { user: SchemaDefinition; enterprise: SchemaDefinition } {
  return { user: SCIMMY.Schemas.User.definition, enterprise: SCIMMY.Schemas.EnterpriseUser.definition };
}

/** The Group schema, the same for every mapping. */
export function groupDefinition(): SchemaDefinition {
  return SCIMMY.Schemas.Group.definition;
}

/** The User resource type's endpoint (`/Users`). */
export function userEndpoint(): string {
  return SCIMMY.Resources.User.endpoint;
}

/**
 * A scimmy Schema class over one definition. scimmy's Schema constructor reads `this.constructor.definition`, and
 * PatchOp.apply patches `new resource.constructor(resource)` and finalises through `new target.constructor(…)`
 * (scimmy 1.3.5 lib/messages/patchop.js): a class of its own keeps all of them on this definition, where
 * `SCIMMY.Schemas.User` would bring in the process-wide one.
 */
export function resourceClassOf(definition: SchemaDefinition): UserResourceClass {
  const Base = SCIMMY.Types.Schema as any;
  return class MappedUser extends Base {
    static get id(): string {
      return definition.id;
    }

    static get definition(): SchemaDefinition {
      return definition;
    }

    constructor(data: object, direction = 'both', basepath?: string, filter?: Filter) {
      super(data, direction);
      // As SCIMMY.Schemas.User's constructor does, with this definition.
      Object.assign(this, definition.coerce(data, direction, basepath, filter));
    }
  } as unknown as UserResourceClass;
}

/** Applies a PatchOp message (RFC 7644 §3.5.2) to a coerced resource; `patched` sees the result, if any. */
export async function applyPatch(
  message: unknown,
  source: UserResource,
  patched: (instance: UserResource) => void,
): Promise<void> {
  await new SCIMMY.Messages.PatchOp(message as any).apply(source, async (instance: UserResource) => {
    patched(instance);
    return instance as any;
  });
}

/** scimmy's own 404, as its resources raise it (no scimType). */
export function notFound(message: string): Error {
  return new SCIMMY.Types.Error(404, null as any, message);
}

type Query = Record<string, string | undefined>;
type DiscoveryResource = 'Schema' | 'ResourceType';
const Resources = SCIMMY.Resources as any;

/** scimmy's own checks of a discovery query (a filter is a 403, RFC 7644 §4), made as its resources make them. */
export function checkDiscoveryQuery(resource: DiscoveryResource, query: Query, id?: string): void {
  if (id === undefined) new Resources[resource](query);
  else new Resources[resource](id, query);
}

/** A discovery resource's base path, as scimmy's resources render `meta.location`. */
export function discoveryBasepath(resource: DiscoveryResource): string {
  return Resources[resource].basepath();
}

/** The Group resource type (RFC 7643 §6), as scimmy describes it. */
export function groupResourceType(): Description {
  return Resources.Group.describe();
}

/** A ListResponse (RFC 7644 §3.4.2) of descriptions. */
export function listResponse(resources: unknown[]): unknown {
  return new SCIMMY.Messages.ListResponse(resources as any);
}

/** A resource type description rendered as scimmy's ResourceType schema does, under `basepath`. */
export function resourceTypeDescription(description: Description, basepath: string): unknown {
  return new SCIMMY.Schemas.ResourceType(description as any, basepath);
}

/**
 * What scimmy's registry answers for a discovery endpoint (the process-wide User schema, last declared). scimmy's
 * typings only declare the (id, config) constructor; a list read takes the query alone, as scimmy-routers calls it.
 */
export function readRegistry(
  resource: DiscoveryResource | 'ServiceProviderConfig',
  query: Query,
  id?: string,
): Promise<unknown> {
  const Resource = Resources[resource];
  return id === undefined ? new Resource(query).read() : new Resource(id, query).read();
}

/**
 * Puts a User definition's attributes into scimmy's registry. scimmy's User class keeps its definition in a
 * private static: the definition object stays, its attributes become the given definition's own (shared, never
 * trimmed here, so the schema is untouched by a later declaration).
 */
export function declareUserDefinition(definition: SchemaDefinition): void {
  const global = SCIMMY.Schemas.User.definition as unknown as { attributes: unknown[] };
  global.attributes.splice(0, global.attributes.length, ...(definition.attributes as unknown[]));
}

/** Declares the User and Group resource types in scimmy's registry. */
export function declareResourceTypes(): void {
  SCIMMY.Resources.declare(SCIMMY.Resources.User);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group);
}

/**
 * RFC 7643 §5 capabilities: what this server really supports, the same for every app in the process.
 * scimmy-routers' constructor claims bulk and sort support (and adds its own authentication scheme) in this
 * global configuration, so each app re-applies these after constructing it. The authentication schemes, which
 * differ per app (JWT or not), are not kept here: discovery.ts answers them from the app's own settings.
 */
export function applyServiceProviderCapabilities(): void {
  // scimmy appends authentication schemes on every set: reset them, so the list never grows per app.
  SCIMMY.Config.set('authenticationSchemes', [] as any);
  SCIMMY.Config.set({
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 1000 },
    changePassword: { supported: false },
    // Kit has no sort parameter: only its own orders (id, creation) are accepted as sortBy (listQuery.ts).
    sort: { supported: false },
    etag: { supported: true },
  } as any);
}
