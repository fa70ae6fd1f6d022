import SCIMMY from 'scimmy';
import {
  type Attribute,
  type AttributeConfig,
  attributeAt,
  builtInUserDefinitions,
  type Description,
  extensionsOf,
  type Filter,
  isExtension,
  membersOf,
  resourceClassOf,
  type SchemaDefinition,
  truncate,
  type UserResource,
  type UserResourceClass,
  userEndpoint,
} from './scimmy';
import { KIT_USER } from './fieldMap';
import { CORE_USER, ENTERPRISE_USER } from '../config/mapping/catalog';
import type { AttributeMapping, ExtensionSchema, SourcePath } from '../config/mapping/model';

// The User schema one attribute mapping describes, as a value: each mapping gets its own
// scimmy definitions, so servers with different mappings in one process never see each other's attributes.
// scimmy's own `SCIMMY.Schemas.User` is a single process-wide definition; nothing on the request path reads it.

export function kitUserSchema(): SchemaDefinition {
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

// scimmy's attributes are objects it mutates in place (truncate splices `subAttributes`): every schema works on
// copies, made from copies taken when this module loads, before anything could have trimmed scimmy's own.

function copyAttribute(a: Attribute): Attribute {
  return new SCIMMY.Types.Attribute(a.type, a.name, { ...a.config }, (a.subAttributes ?? []).map(copyAttribute));
}

function copyDefinition(d: SchemaDefinition): SchemaDefinition {
  // The constructor adds the common attributes (schemas, id, externalId, meta) itself.
  const own = membersOf(d).filter((a): a is Attribute => !isExtension(a) && !a.config.shadow);
  return new SCIMMY.Types.SchemaDefinition(d.name, d.id, d.description, own.map(copyAttribute));
}

const BUILT_IN = builtInUserDefinitions();
const PRISTINE_USER = copyDefinition(BUILT_IN.user);
const PRISTINE_ENTERPRISE = copyDefinition(BUILT_IN.enterprise);

/** Core attributes whose home in Kit is fixed (docs/configuration/mapping.md): declared whatever the mapping says. */
const ALWAYS_DECLARED = new Set(['userName', 'emails', 'active', 'groups']);

/**
 * What to drop from a schema: every attribute the mapping gives no home in Kit, so /Schemas tells the truth and
 * filters on them are refused by name. A complex attribute mapped by sub-attribute keeps only those (and `type`,
 * when one value is chosen by type); one mapped whole keeps everything.
 */
function unmappedAttributes(definition: SchemaDefinition, schema: string, mapping: AttributeMapping): string[] {
  const sources = mapping.user.map((u) => u.source).filter((s) => s.schema === schema);
  const out: string[] = [];
  for (const attribute of membersOf(definition)) {
    if (isExtension(attribute)) continue;
    if (attribute.config?.shadow || (schema === CORE_USER && ALWAYS_DECLARED.has(attribute.name))) continue;
    const mapped = sources.filter((s) => s.attribute === attribute.name);
    if (mapped.length === 0) {
      out.push(attribute.name);
      continue;
    }
    const subs = attribute.subAttributes;
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

function extensionDefinition(ext: ExtensionSchema): SchemaDefinition {
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
          ...(MUTABILITY[a.mutability] as AttributeConfig),
        }),
    ),
  );
}

/** The core User definition a mapping describes: core and enterprise trimmed, Kit and declared extensions added. */
function userDefinition(mapping: AttributeMapping): SchemaDefinition {
  const core = copyDefinition(PRISTINE_USER);
  const enterprise = copyDefinition(PRISTINE_ENTERPRISE);
  truncate(core, unmappedAttributes(core, CORE_USER, mapping));
  truncate(enterprise, unmappedAttributes(enterprise, ENTERPRISE_USER, mapping));
  core.extend(enterprise, false);
  core.extend(kitUserSchema(), false);
  for (const ext of mapping.extensions) core.extend(extensionDefinition(ext), ext.required);
  return core;
}

/**
 * What Kit makes of `emails`: it holds one address, so only `value` is written (where the mapping lets the address
 * change: `immutable` where it holds it fixed). `type` and `primary` only choose which of several values is the
 * address and always read back as work and true; `display` is never kept. Those three are `readOnly` (RFC 7643
 * §7: ignored on input), which is what a client sees happen to them.
 */
function truthfulEmails(description: Description, mapping: AttributeMapping): Description {
  const immutable = mapping.user.some((a) => a.target.kind === 'email_address' && a.mutability === 'immutable');
  // scimmy's description holds its Attribute objects (rendered by their toJSON): read as the JSON it renders.
  const plain = JSON.parse(JSON.stringify(description)) as Description & { attributes?: unknown };
  const attributes = plain.attributes;
  if (!Array.isArray(attributes)) return description;
  const emails = attributes.map((a: { name?: string; subAttributes?: Array<Record<string, unknown>> }) => {
    if (a.name !== 'emails' || !Array.isArray(a.subAttributes)) return a;
    const subAttributes = a.subAttributes.map((sub) => {
      if (sub.name === 'value') return immutable ? { ...sub, mutability: 'immutable' } : sub;
      return {
        ...sub,
        mutability: 'readOnly',
        description:
          sub.name === 'display'
            ? 'Not kept: Kit holds only the address.'
            : `Read back as ${sub.name === 'type' ? '"work"' : 'true'}: Kit holds one address. On input it only chooses which of several values is the address.`,
      };
    });
    return {
      ...a,
      ...(immutable && { mutability: 'immutable' }),
      description: `Kit holds exactly one address per subscriber, read back as the one primary work email.${
        immutable ? ' Set when the user is created; the mapping holds it fixed after.' : ''
      }`,
      subAttributes,
    };
  });
  return { ...plain, attributes: emails } as Description;
}

export class UserSchema {
  /** The core User definition, its extensions (enterprise, Kit, the mapping's) included. */
  readonly definition: SchemaDefinition;
  private readonly Resource: UserResourceClass;

  constructor(readonly mapping: AttributeMapping) {
    this.definition = userDefinition(mapping);
    this.Resource = resourceClassOf(this.definition);
  }

  /** The extension definitions, in declaration order (as scimmy lists them in /Schemas). */
  get extensions(): SchemaDefinition[] {
    return extensionsOf(this.definition);
  }

  /** The scimmy attribute definition behind a path (`name.givenName`, URNs), or undefined when not declared. */
  attribute(path: string): Attribute | undefined {
    return attributeAt(this.definition, path);
  }

  /** A declared extension by its URN (any letter case): its id and the attributes a client may write. */
  extension(urn: string): { id: string; writable: string[] } | undefined {
    const found = this.extensions.find((e) => e.id.toLowerCase() === urn.toLowerCase());
    if (!found) return undefined;
    const writable = membersOf(found).filter(
      (a): a is Attribute => !isExtension(a) && !a.config?.shadow && a.config?.mutable !== false,
    );
    return { id: found.id, writable: writable.map((a) => a.name) };
  }

  /** A User coerced to this schema (scimmy throws its SCIMError on a value that does not fit). */
  coerce(data: object, direction: 'in' | 'out' | 'both', basepath?: string, filter?: Filter): UserResource {
    return new this.Resource(data, direction, basepath, filter);
  }

  /** RFC 7643 §7 descriptions of the core User schema and its extensions, as scimmy's /Schemas renders them. */
  describe(basepath = ''): Description[] {
    return [this.definition, ...this.extensions].map((d) => this.describeDefinition(d, basepath));
  }

  /** One definition's description; the core User's says what Kit makes of `emails` (truthfulEmails). */
  describeDefinition(d: SchemaDefinition, basepath = ''): Description {
    const description = d.describe(basepath) as Description;
    return d === this.definition ? truthfulEmails(description, this.mapping) : description;
  }

  /** RFC 7643 §6 the User resource type, as scimmy's Resource.describe() reads it from a definition. */
  resourceType(): Description {
    const definition = this.definition;
    // `required` is set on an extension's definition by extend() (scimmy's typings leave it out).
    const schemaExtensions = this.extensions.map((e) => ({
      schema: e.id,
      required: (e as { required?: boolean }).required,
    }));
    return {
      id: definition.name,
      name: definition.name,
      endpoint: userEndpoint(),
      description: definition.description,
      schema: definition.id,
      ...(schemaExtensions.length ? { schemaExtensions } : {}),
    };
  }
}

// Equal mappings share one schema (and so one compiled renderer, render/userRenderer.ts): by object first, then
// by content, since each tenant reads its own copy of a mapping file.
const byObject = new WeakMap<AttributeMapping, UserSchema>();
const byContent = new Map<string, UserSchema>();

export function userSchemaFor(mapping: AttributeMapping): UserSchema {
  let schema = byObject.get(mapping);
  if (schema) return schema;
  const key = JSON.stringify(mapping);
  schema = byContent.get(key);
  if (!schema) {
    schema = new UserSchema(mapping);
    byContent.set(key, schema);
  }
  byObject.set(mapping, schema);
  return schema;
}
