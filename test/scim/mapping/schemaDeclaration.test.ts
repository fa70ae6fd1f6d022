import { readFileSync } from 'node:fs';
import path from 'node:path';
import SCIMMY from 'scimmy';
import { DEFAULT_MAPPING } from '../../../src/config/mapping/defaultMapping';
import { parseMappingFile } from '../../../src/config/mapping/mappingFile';
import { declareUserSchemas } from '../../../src/scim/scimmyGlobals';

// The User schemas declared in scimmy's registry (what scimmy's own resources read; the request path reads the
// services' UserSchema, test/scim/userSchema.test.ts) follow the mapping; the default mapping declares exactly
// what the server declared before mappings were configuration.

type Described = { id: string; attributes: Array<{ name: string; subAttributes?: Array<{ name: string }> }> };

function outline(): string[] {
  return (SCIMMY.Schemas.declared() as any[])
    .map((d) => d.describe('') as Described)
    .filter((d) => d.id.endsWith(':User'))
    .map(
      (d) =>
        `${d.id}: ${d.attributes
          .map((a) => (a.subAttributes ? `${a.name}(${a.subAttributes.map((s) => s.name).join(',')})` : a.name))
          .join(' ')}`,
    );
}

const BEFORE_ISSUE_16 = [
  'urn:ietf:params:scim:schemas:core:2.0:User: userName name(familyName,givenName) displayName title active emails(value,display,type,primary) groups(value,$ref,display,type)',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User: employeeNumber organization department',
  'urn:ietf:params:scim:schemas:extension:kit:2.0:User: state',
];

describe('User schemas declared from the mapping', () => {
  it('the default mapping declares what the server declared before (byte for byte in /Schemas)', () => {
    declareUserSchemas(DEFAULT_MAPPING);
    expect(outline()).toEqual(BEFORE_ISSUE_16);
  });

  it('another mapping widens them, and declaring the default again restores them exactly', () => {
    const entra = parseMappingFile(
      readFileSync(path.resolve(__dirname, '../../../mapping/entra-validator.yaml'), 'utf8'),
    );
    declareUserSchemas(entra);
    const [core, enterprise] = outline();
    expect(core).toContain('name(formatted,familyName,givenName)');
    expect(core).toContain('phoneNumbers(value,type)');
    expect(core).toContain('addresses(formatted,streetAddress,locality,region,postalCode,country,type,primary)');
    expect(enterprise).toContain('manager(value)');
    declareUserSchemas(DEFAULT_MAPPING);
    expect(outline()).toEqual(BEFORE_ISSUE_16);
  });
});
