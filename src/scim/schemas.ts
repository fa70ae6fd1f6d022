import SCIMMY from 'scimmy';
import { ScimBadRequest } from './errors';
import { KIT_USER } from './fieldMap';

// scimmy keeps schemas and resource declarations in module-level state; they are registered once per process
// and hold no per-app data (handlers receive their services per request), so many apps can share them.

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

let registered = false;

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

export function registerScimSchemas(): void {
  if (registered) return;
  registered = true;
  (SCIMMY.Schemas.User.definition as any).truncate(UNSUPPORTED_USER_ATTRIBUTES);
  (SCIMMY.Schemas.EnterpriseUser.definition as any).truncate(UNSUPPORTED_ENTERPRISE_ATTRIBUTES);
  SCIMMY.Resources.declare(
    SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false).extend(kitUserSchema() as any, false),
  );
  SCIMMY.Resources.declare(SCIMMY.Resources.Group);
}

/** RFC 7643 §5: what this server really supports. scimmy-routers claims bulk and sort; we correct that. */
export function describeServiceProvider(options: { documentationUri?: string; jwt: boolean }): void {
  // scimmy appends authentication schemes on every set (and scimmy-routers adds its own per app): start empty.
  SCIMMY.Config.set('authenticationSchemes', [] as any);
  SCIMMY.Config.set({
    documentationUri: options.documentationUri,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 1000 },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: options.jwt
          ? 'Static bearer tokens, or JWTs verified against the configured JWKS (issuer and audience checked)'
          : 'Static bearer tokens configured in SCIM_BEARER_TOKENS',
        specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
      },
    ],
  } as any);
}

type AttributeFilter = InstanceType<typeof SCIMMY.Types.Filter> | undefined;

/** RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`, in the form scimmy's renderer takes. */
export function attributeFilter(attributes?: string, excludedAttributes?: string): AttributeFilter {
  // Same construction scimmy's Resource uses, so its renderer honours "returned" rules (id, schemas always).
  if (attributes?.trim()) return attributeList('attributes', attributes, 'pr');
  if (excludedAttributes?.trim()) return attributeList('excludedAttributes', excludedAttributes, 'np');
  return undefined;
}

function attributeList(param: string, list: string, op: 'pr' | 'np'): AttributeFilter {
  const expression = list
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .map((a) => `${a} ${op}`)
    .join(' and ');
  try {
    return new SCIMMY.Types.Filter(expression);
  } catch (err) {
    if (err instanceof SCIMMY.Types.Error) throw err;
    // scimmy throws a TypeError for names such as "__proto__": the client's mistake, not a server fault.
    throw new ScimBadRequest('invalidValue', `${param} is not a list of attribute names: "${list}".`, err);
  }
}

/** RFC 7643 §3: every resource names its schemas, whatever `attributes` asked for (scimmy drops them). */
function withSchemas(rendered: Record<string, any>, source: Record<string, any>): Record<string, any> {
  return rendered.schemas ? rendered : { schemas: source.schemas, ...rendered };
}

export function renderUser(user: Record<string, any>, basepath: string, attrs: AttributeFilter): Record<string, any> {
  const rendered = JSON.parse(JSON.stringify(new SCIMMY.Schemas.User(user, 'out', `${basepath}/Users`, attrs as any)));
  return withSchemas(rendered, user);
}

export function renderGroup(group: Record<string, any>, basepath: string, attrs: AttributeFilter): Record<string, any> {
  const rendered = JSON.parse(
    JSON.stringify(new SCIMMY.Schemas.Group(group, 'out', `${basepath}/Groups`, attrs as any)),
  );
  return withSchemas(rendered, group);
}

/** Does the client want an attribute? Lets a handler skip Kit calls for attributes nobody asked for. */
export function wantsAttribute(name: string, attributes?: string, excludedAttributes?: string): boolean {
  const list = (s?: string) => (s ?? '').split(',').map((a) => a.trim().toLowerCase());
  if (attributes?.trim())
    return list(attributes).some((a) => a === name.toLowerCase() || a.startsWith(`${name.toLowerCase()}.`));
  if (excludedAttributes?.trim()) return !list(excludedAttributes).includes(name.toLowerCase());
  return true;
}
