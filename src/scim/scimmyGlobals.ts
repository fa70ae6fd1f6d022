import SCIMMY from 'scimmy';
import { KIT_USER } from './fieldMap';
import { DEFAULT_MAPPING } from './mapping/defaultMapping';
import type { AttributeMapping, ExtensionSchema, SourcePath } from './mapping/model';
import { CORE_USER, ENTERPRISE_USER } from './mapping/catalog';

// The one module that touches scimmy's process-wide state (its schema registry and its service provider
// configuration). scimmy keeps both in module-level state shared by every app in the process; what is set here
// is identical for every app, and what differs per app (the authentication schemes) is answered by the app's
// own discovery route instead, so the last app created no longer decides what the others describe.

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

// ---- the User schemas, generated from the attribute mapping (issue #16) ----------------------------------------

type Definition = {
  attributes: any[];
  extend(ext: unknown, required?: boolean): unknown;
  truncate(t: unknown): unknown;
};

/** scimmy's built-in definitions, as scimmy made them: the mapping trims copies of these, never loses them. */
interface Pristine {
  definition: Definition;
  attributes: any[];
  subAttributes: Map<any, any[]>;
}

function pristine(definition: Definition): Pristine {
  const complex = definition.attributes.filter((a) => Array.isArray(a.subAttributes));
  return {
    definition,
    attributes: [...definition.attributes],
    subAttributes: new Map(complex.map((a) => [a, [...a.subAttributes]])),
  };
}

const USER = pristine(SCIMMY.Schemas.User.definition as unknown as Definition);
const ENTERPRISE = pristine(SCIMMY.Schemas.EnterpriseUser.definition as unknown as Definition);
const KIT_SCHEMA = kitUserSchema();

/** Core attributes whose home in Kit is fixed (README "The mapping"): declared whatever the mapping says. */
const ALWAYS_DECLARED = new Set(['userName', 'emails', 'active', 'groups']);

/**
 * What scimmy should drop from a schema: every attribute the mapping gives no home in Kit, so /Schemas tells the
 * truth and filters on them are refused by name. A complex attribute mapped by sub-attribute keeps only those
 * (and `type`, when one value is chosen by type); one mapped whole keeps everything.
 */
function unmappedAttributes(p: Pristine, schema: string, mapping: AttributeMapping): string[] {
  const sources = mapping.user.map((u) => u.source).filter((s) => s.schema === schema);
  const out: string[] = [];
  for (const attribute of p.attributes) {
    if (attribute.config?.shadow || (schema === CORE_USER && ALWAYS_DECLARED.has(attribute.name))) continue;
    const mapped = sources.filter((s) => s.attribute === attribute.name);
    if (mapped.length === 0) {
      out.push(attribute.name);
      continue;
    }
    const subs = p.subAttributes.get(attribute);
    if (!subs || mapped.some((s) => s.sub === undefined && s.typeValue === undefined)) continue;
    const kept = new Set(mapped.flatMap((s: SourcePath) => (s.typeValue !== undefined ? ['type', s.sub] : [s.sub])));
    if (mapped.some((s) => s.typeValue !== undefined && s.sub === undefined)) continue;
    for (const sub of subs) if (!kept.has(sub.name)) out.push(`${attribute.name}.${sub.name}`);
  }
  return out;
}

const MUTABILITY = {
  readWrite: { mutable: true },
  immutable: { mutable: 'immutable' },
  readOnly: { mutable: false, direction: 'out' },
  writeOnly: { mutable: 'writeOnly', returned: 'never', direction: 'in' },
} as const;

function extensionDefinition(ext: ExtensionSchema): InstanceType<typeof SCIMMY.Types.SchemaDefinition> {
  return new SCIMMY.Types.SchemaDefinition(
    ext.name,
    ext.id,
    ext.description,
    ext.attributes.map(
      (a) =>
        new SCIMMY.Types.Attribute(a.type, a.name, {
          multiValued: a.multiValued,
          required: a.required,
          // Filters compare strings case-insensitively (filter.ts), so that is what /Schemas says.
          caseExact: false,
          description: a.description,
          ...MUTABILITY[a.mutability],
        } as any),
    ),
  );
}

/** Extension definitions by their declaration, so declaring the same mapping again reuses the same instances. */
const declaredExtensions = new Map<string, InstanceType<typeof SCIMMY.Types.SchemaDefinition>>();

function restore(p: Pristine): void {
  p.definition.attributes.splice(0, p.definition.attributes.length, ...p.attributes);
  for (const [attribute, subs] of p.subAttributes)
    attribute.subAttributes.splice(0, attribute.subAttributes.length, ...subs);
}

/**
 * Declares the User schemas the mapping describes: core and enterprise attributes trimmed to what is mapped, the
 * Kit extension, and every extension the mapping file declares (with its `required` flag, listed in
 * /ResourceTypes). scimmy keeps one registry per process, so this is one mapping per process: the service calls
 * it once with its configured mapping (declaring the same mapping again changes nothing).
 */
/** Bumped each time the User schemas are declared, so what was derived from them (render/) is derived again. */
let userSchemaGeneration = 0;

export function userSchemasGeneration(): number {
  return userSchemaGeneration;
}

export function declareUserSchemas(mapping: AttributeMapping): void {
  userSchemaGeneration += 1;
  restore(USER);
  restore(ENTERPRISE);
  USER.definition.truncate(unmappedAttributes(USER, CORE_USER, mapping));
  ENTERPRISE.definition.truncate(unmappedAttributes(ENTERPRISE, ENTERPRISE_USER, mapping));
  USER.definition.extend(ENTERPRISE.definition, false);
  USER.definition.extend(KIT_SCHEMA, false);
  for (const ext of mapping.extensions) {
    const key = JSON.stringify(ext);
    let definition = declaredExtensions.get(key);
    if (!definition) {
      definition = extensionDefinition(ext);
      declaredExtensions.set(key, definition);
    }
    USER.definition.extend(definition, ext.required);
  }
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
