import type { ScimBody } from '../../src/scim/resources';
import path from 'node:path';
import SCIMMY from 'scimmy';
import { loadMapping } from '../../src/config/mapping/mappingSource';
import { checkUserPatch, normalizePatch } from '../../src/scim/patchShapes';
import { resourceRenderer } from '../../src/scim/render';
import { scimmyRenderer } from '../support/scimmyRenderer';
import { userShape } from '../../src/scim/render/userRenderer';
import { resourceTypeById, schemaById, schemaList } from '../../src/scim/schemaDescriptions';
import { declareUserSchemas } from '../../src/scim/scimmyGlobals';
import { type UserSchema, userSchemaFor } from '../../src/scim/userSchema';

// The User schema is a value built from a mapping. Two schemas from different mappings live in one
// process and answer for their own mapping only, however their work interleaves, whatever scimmy's process-wide
// registry was last declared with.

const ROOT = path.resolve(__dirname, '../..');
const DEFAULT_FILE = path.join(ROOT, 'mapping/default.yaml');
const ENTRA_FILE = path.join(ROOT, 'mapping/entra-validator.yaml');
const EVERY_CLASS_FILE = path.join(ROOT, 'test/fixtures/mapping/every-class.yaml');
const REQUIRED_FILE = path.join(ROOT, 'test/fixtures/mapping/required-extension.yaml');
const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const BASE = 'https://scim.example.com/scim/v2';

const PHONES = [{ type: 'work', value: '+44 20 7946 0000' }];

function user(extra: Record<string, unknown> = {}): Record<string, any> {
  return {
    schemas: [CORE],
    id: '42',
    userName: 'ada@example.com',
    name: { givenName: 'Ada', familyName: 'Lovelace', formatted: 'Ada King' },
    emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
    active: true,
    meta: { resourceType: 'User', created: '2020-01-01T00:00:00.000Z', lastModified: '2020-01-02T00:00:00.000Z' },
    ...extra,
  };
}

const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

/** `name(sub,…)` per attribute of the core schema's description. */
function outline(schema: UserSchema): string {
  const [core] = plain(schema.describe());
  return core.attributes
    .map((a: any) => (a.subAttributes ? `${a.name}(${a.subAttributes.map((s: any) => s.name).join(',')})` : a.name))
    .join(' ');
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('UserSchema: one per mapping, independent of the others and of scimmy’s registry', () => {
  const byDefault = userSchemaFor(loadMapping(DEFAULT_FILE));
  const entra = userSchemaFor(loadMapping(ENTRA_FILE));

  it('is shared by equal mappings, read from the file twice, and differs between mappings', () => {
    expect(userSchemaFor(loadMapping(DEFAULT_FILE))).toBe(byDefault);
    expect(userSchemaFor(loadMapping(undefined))).toBe(byDefault);
    expect(entra).not.toBe(byDefault);
    expect(entra.definition).not.toBe(byDefault.definition);
  });

  it('describes what each mapping maps, as scimmy’s registry described it for that mapping alone', () => {
    expect(outline(byDefault)).toBe(
      'userName name(familyName,givenName) displayName title active emails(value,display,type,primary) groups(value,$ref,display,type)',
    );
    expect(outline(entra)).toContain('name(formatted,familyName,givenName)');
    expect(outline(entra)).toContain('phoneNumbers(value,type)');
    // Byte for byte what scimmy's own /Schemas said when the process was declared with each mapping.
    for (const schema of [byDefault, entra]) {
      declareUserSchemas(schema.mapping);
      const declared = (SCIMMY.Schemas.declared() as any[]).filter((d) => d.id.endsWith(':User'));
      // All but emails, which says what Kit makes of it (one address: only its value is written).
      const [ours, ...ourExtensions] = plain(schema.describe());
      const [theirs, ...theirExtensions] = plain(declared.map((d) => d.describe('')));
      const withoutEmails = (d: any) => ({ ...d, attributes: d.attributes.filter((a: any) => a.name !== 'emails') });
      expect(withoutEmails(ours)).toEqual(withoutEmails(theirs));
      expect(ourExtensions).toEqual(theirExtensions);
      const emails = ours.attributes.find((a: any) => a.name === 'emails');
      expect(emails.subAttributes.map((a: any) => `${a.name}:${a.mutability}`)).toEqual([
        'value:readWrite',
        'display:readOnly',
        'type:readOnly',
        'primary:readOnly',
      ]);
    }
  });

  it('coerces incoming bodies to its own mapping', () => {
    const body = user({ phoneNumbers: PHONES });
    const viaDefault = plain(byDefault.coerce(body, 'in'));
    const viaEntra = plain(entra.coerce(body, 'in'));
    expect(viaDefault.phoneNumbers).toBeUndefined();
    expect(viaDefault.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
    expect(viaEntra.phoneNumbers).toEqual(PHONES);
    expect(viaEntra.name.formatted).toBe('Ada King');
  });

  it('checks PATCH paths against its own mapping', () => {
    const message = normalizePatch(
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'phoneNumbers', value: PHONES }],
      },
      'User',
    );
    // phoneNumbers is an RFC 7643 attribute the default mapping does not hold: left out, or refused.
    expect(checkUserPatch(message, byDefault)).toEqual({
      message: { ...message, Operations: [] },
      ignored: ['phoneNumbers'],
    });
    expect(() => checkUserPatch(message, byDefault, 'refuse')).toThrow(
      /"phoneNumbers" is not held by this server's attribute mapping/,
    );
    expect(checkUserPatch(message, entra)).toEqual({ message, ignored: [] });
  });

  it('patches with scimmy’s PatchOp on its own definition, interleaved with the other schema', async () => {
    const gate = deferred();
    const paused = deferred();
    const addPhones = new SCIMMY.Messages.PatchOp({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'add', path: 'phoneNumbers', value: PHONES },
        { op: 'replace', path: 'name.formatted', value: 'Augusta Ada King' },
      ],
    } as any);
    let finalised: Record<string, any> | undefined;
    // Started on the Entra schema, then held in its finalise step (where users.ts awaits Kit) …
    const entraPatch = addPhones.apply(entra.coerce(user(), 'out'), async (instance) => {
      paused.resolve();
      await gate.promise;
      finalised = plain(instance);
      return instance as any;
    });
    await paused.promise;

    // … while the default schema works, and scimmy's registry is declared with the default mapping.
    declareUserSchemas(byDefault.mapping);
    const onDefault = new SCIMMY.Messages.PatchOp({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'phoneNumbers', value: PHONES }],
    } as any).apply(byDefault.coerce(user(), 'out'));
    await expect(onDefault).rejects.toThrow(/phoneNumbers/);
    const renamed = await new SCIMMY.Messages.PatchOp({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'name.givenName', value: 'Augusta' }],
    } as any).apply(byDefault.coerce(user({ phoneNumbers: PHONES }), 'out'));
    expect(plain(renamed).name).toEqual({ givenName: 'Augusta', familyName: 'Lovelace' });
    expect(plain(renamed).phoneNumbers).toBeUndefined();

    gate.resolve();
    // The patched result is re-coerced through the resource's constructor (PatchOp's finalise): still Entra's.
    const patched = plain(await entraPatch);
    expect(finalised?.phoneNumbers).toEqual(PHONES);
    expect(patched.phoneNumbers).toEqual(PHONES);
    expect(patched.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace', formatted: 'Augusta Ada King' });
  });

  it('renders with its own shape, compiled or through scimmy, whatever was declared last', () => {
    declareUserSchemas(entra.mapping);
    const stored = user({ phoneNumbers: PHONES });
    const renderers = { compiled: resourceRenderer, scimmy: scimmyRenderer };
    for (const kind of ['compiled', 'scimmy'] as const) {
      const viaDefault = renderers[kind](byDefault).prepare()(stored, BASE);
      const viaEntra = renderers[kind](entra).prepare()(stored, BASE);
      expect(viaDefault.phoneNumbers).toBeUndefined();
      expect(viaDefault.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
      expect(viaEntra.phoneNumbers).toEqual(PHONES);
      expect((viaEntra.meta as ScimBody).location).toBe(`${BASE}/Users/42`);
      // `attributes` names an attribute only one of the mappings declares.
      expect(renderers[kind](entra).prepare('phoneNumbers')(stored, BASE).phoneNumbers).toEqual(PHONES);
      expect(renderers[kind](byDefault).prepare('phoneNumbers')(stored, BASE).phoneNumbers).toBeUndefined();
    }
    expect(userShape(entra)).toBe(userShape(entra));
    expect(userShape(entra)).not.toBe(userShape(byDefault));
  });

  it('answers /Schemas and /ResourceTypes for its own extensions', () => {
    const every = userSchemaFor(loadMapping(EVERY_CLASS_FILE));
    const required = userSchemaFor(loadMapping(REQUIRED_FILE));
    const ids = (schema: UserSchema) => plain(schemaList(schema, {})).Resources.map((r: any) => r.id);
    expect(ids(byDefault)).toEqual([
      CORE,
      'urn:ietf:params:scim:schemas:core:2.0:Group',
      ENTERPRISE,
      expect.any(String),
    ]);
    expect(ids(every)).toContain(ACME);
    expect(ids(byDefault)).not.toContain(ACME);
    expect(plain(schemaById(every, ACME, {})).attributes.map((a: any) => a.name)).toContain('costCentre');
    expect(() => schemaById(byDefault, ACME, {})).toThrow(`Schema ${ACME} not found`);
    const extensions = (schema: UserSchema) => plain(resourceTypeById(schema, 'User', {})).schemaExtensions;
    expect(extensions(required)).toContainEqual({ schema: ACME, required: true });
    expect(extensions(every)).toContainEqual({ schema: ACME, required: false });
    expect(extensions(byDefault).map((e: any) => e.schema)).not.toContain(ACME);
  });
});
