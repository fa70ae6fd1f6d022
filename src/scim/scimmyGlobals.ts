import { DEFAULT_MAPPING } from '../config/mapping/defaultMapping';
import type { AttributeMapping } from '../config/mapping/model';
import { applyServiceProviderCapabilities, declareResourceTypes, declareUserDefinition } from './scimmy';
import { userSchemaFor } from './userSchema';

// When scimmy's process-wide state (its schema registry and its service provider configuration, reached through
// scimmy.ts) is set. scimmy keeps both in module-level state shared by every app in the process; what differs per
// app is answered by the app's own routes instead (the User schema from its services' mapping, the
// authentication schemes from its settings), so the last app created does not decide what the others describe.

/**
 * Puts a mapping's User schema (userSchema.ts) into scimmy's registry, for what still reads it: scimmy's own
 * resources (scimmy-routers answers what the app's routes leave to it) and SCIMMY.Schemas.declared(). The request
 * path reads the schema of the services it serves instead, so with several mappings in one process
 * the last one declared here only decides what those leftovers see.
 */
export function declareUserSchemas(mapping: AttributeMapping): void {
  declareUserDefinition(userSchemaFor(mapping).definition);
}

/**
 * Schemas and resource types as this server declares them. Run once, when this module is first imported (with
 * the default mapping; the service re-declares the User schemas with its configured one): an ES module is
 * evaluated once per process, which is the lifetime of scimmy's registry too.
 */
function declareResources(): void {
  declareUserSchemas(DEFAULT_MAPPING);
  declareResourceTypes();
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
