import SCIMMY from 'scimmy';
import { KIT_USER } from './fieldMap';

// The one module that touches scimmy's process-wide state (its schema registry and its service provider
// configuration). scimmy keeps both in module-level state shared by every app in the process; what is set here
// is identical for every app, and what differs per app (the authentication schemes) is answered by the app's
// own discovery route instead, so the last app created no longer decides what the others describe.

/** Core User attributes Kit cannot hold anywhere; dropped from /Schemas so discovery tells the truth. */
const UNSUPPORTED_USER_ATTRIBUTES = [
  'nickName',
  'profileUrl',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'password',
  'phoneNumbers',
  'ims',
  'photos',
  'addresses',
  'entitlements',
  'roles',
  'x509Certificates',
  'name.formatted',
  'name.middleName',
  'name.honorificPrefix',
  'name.honorificSuffix',
];

const UNSUPPORTED_ENTERPRISE_ATTRIBUTES = ['costCenter', 'division', 'manager'];

export function kitUserSchema(): InstanceType<typeof SCIMMY.Types.SchemaDefinition> {
  return new SCIMMY.Types.SchemaDefinition(
    'KitSubscriber',
    KIT_USER,
    'The Kit subscriber behind a SCIM User, as Kit reports it (read-only)',
    [
      new SCIMMY.Types.Attribute('string', 'state', {
        mutable: false,
        direction: 'out',
        caseExact: true,
        canonicalValues: ['active', 'inactive', 'bounced', 'complained', 'cancelled'],
        description:
          'Kit subscriber state. Every state but "active" reads as active:false; Kit cannot make a subscriber active again through its API.',
      }),
    ],
  );
}

/**
 * Schemas and resource types as this server declares them. Run once, when this module is first imported: an
 * ES module is evaluated once per process, which is the lifetime of scimmy's registry too.
 */
function declareResources(): void {
  (SCIMMY.Schemas.User.definition as any).truncate(UNSUPPORTED_USER_ATTRIBUTES);
  (SCIMMY.Schemas.EnterpriseUser.definition as any).truncate(UNSUPPORTED_ENTERPRISE_ATTRIBUTES);
  SCIMMY.Resources.declare(
    SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false).extend(kitUserSchema() as any, false),
  );
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
