import SCIMMY from 'scimmy';
import { DEFAULT_MAPPING } from '../config/mapping/defaultMapping';
import type { AttributeMapping } from '../config/mapping/model';
import { userSchemaFor } from './userSchema';

// The one module that touches scimmy's process-wide state (its schema registry and its service provider
// configuration). scimmy keeps both in module-level state shared by every app in the process; what differs per
// app is answered by the app's own routes instead (the User schema from its services' mapping, the
// authentication schemes from its settings), so the last app created does not decide what the others describe.

/**
 * Puts a mapping's User schema (userSchema.ts) into scimmy's registry, for what still reads it: scimmy's own
 * resources (scimmy-routers answers what the app's routes leave to it) and SCIMMY.Schemas.declared(). The request
 * path reads the schema of the services it serves instead, so with several mappings in one process
 * the last one declared here only decides what those leftovers see.
 */
export function declareUserSchemas(mapping: AttributeMapping): void {
  // scimmy's User class keeps its definition in a private static: the definition object stays, its attributes
  // become the schema's own (shared, never trimmed here, so the schema is untouched by a later declaration).
  const global = SCIMMY.Schemas.User.definition as unknown as { attributes: unknown[] };
  global.attributes.splice(0, global.attributes.length, ...(userSchemaFor(mapping).definition.attributes as unknown[]));
}

/**
 * Schemas and resource types as this server declares them. Run once, when this module is first imported (with
 * the default mapping; the service re-declares the User schemas with its configured one): an ES module is
 * evaluated once per process, which is the lifetime of scimmy's registry too.
 */
function declareResources(): void {
  declareUserSchemas(DEFAULT_MAPPING);
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
    sort: { supported: true },
    etag: { supported: true },
  } as any);
}

/** The authentication scheme an app describes in /ServiceProviderConfig (RFC 7643 §5 authenticationSchemes). */
export function authenticationSchemes(options: { jwt: boolean }): Array<Record<string, string>> {
  return [
    {
      type: 'oauthbearertoken',
      name: 'OAuth Bearer Token',
      description: options.jwt
        ? 'Static bearer tokens, or JWTs verified against the configured JWKS (issuer and audience checked)'
        : 'Static bearer tokens configured in SCIM_BEARER_TOKENS',
      specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
    },
  ];
}

declareResources();
applyServiceProviderCapabilities();
