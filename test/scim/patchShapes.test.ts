import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ScimBadRequest } from '../../src/scim/errors';
import { loadMapping } from '../../src/config/mapping/mappingSource';
import { booleanise, checkUserPatch, normalizePatch, withFilteredEntries } from '../../src/scim/patchShapes';
import { userSchemaFor } from '../../src/scim/userSchema';
import { scimFixture } from '../support/scim';

const entra = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/scim/entra-user-patch.json'), 'utf8'));

describe('PATCH shape normalisation (Entra ID, Okta)', () => {
  it('lower-cases ops and turns string booleans into booleans, by path and inside value objects', () => {
    const { Operations } = normalizePatch(entra, 'User');
    expect(Operations.map((o) => o.op)).toEqual(['replace', 'add', 'replace', 'replace']);
    expect(Operations[0].value).toBe(false);
    expect(Operations[3].value).toEqual({ displayName: 'Ada L.', active: true });
    expect(Operations[2].path).toBe('emails[type eq "work"].value');
  });

  it('refuses bodies that are not PatchOp messages with a SCIM 400', () => {
    for (const bad of [null, [], {}, { schemas: ['x'], Operations: [] }]) {
      expect(() => normalizePatch(bad, 'User')).toThrow(ScimBadRequest);
    }
    const unknownOp = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'move' }] };
    expect(() => normalizePatch(unknownOp, 'User')).toThrow(/unknown op/);
  });

  it('drops a core schema URN prefix from paths (RFC 7644 §3.10)', () => {
    const { Operations } = normalizePatch(
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'urn:ietf:params:scim:schemas:core:2.0:User:name.givenName', value: 'A' }],
      },
      'User',
    );
    expect(Operations[0].path).toBe('name.givenName');
  });

  it('turns string booleans into booleans in whole resources (Entra POST/PUT)', () => {
    expect(booleanise({ active: 'False', emails: [{ primary: 'TRUE', value: 'x' }], title: 'true' })).toEqual({
      active: false,
      emails: [{ primary: true, value: 'x' }],
      title: 'true',
    });
  });
});

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const entraSchema = userSchemaFor(loadMapping(path.join(__dirname, '../../mapping/entra-validator.yaml')));
const shape = (name: string) => normalizePatch(scimFixture('entra', `${name}.json`), 'User');

describe("Entra's enterprise shapes, before any Kit call", () => {
  it('reads a manager sent as a plain string as its id', () => {
    const { message } = checkUserPatch(shape('manager-add-string'), entraSchema);
    expect(message.Operations).toEqual([{ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: '7' } }]);
  });

  it('drops the value Entra names in a remove of the (single) manager', () => {
    const { message } = checkUserPatch(shape('manager-remove-with-value'), entraSchema);
    expect(message.Operations).toEqual([{ op: 'remove', path: `${ENTERPRISE}:manager` }]);
  });

  it('turns a whole-extension path into removes of its attributes, or a path-less value', () => {
    const removed = checkUserPatch(shape('enterprise-remove'), entraSchema).message.Operations;
    expect(removed.map((o) => o.path)).toEqual(
      expect.arrayContaining([`${ENTERPRISE}:department`, `${ENTERPRISE}:manager`, `${ENTERPRISE}:costCenter`]),
    );
    expect(removed.every((o) => o.op === 'remove')).toBe(true);
    const added = checkUserPatch(shape('enterprise-add'), entraSchema).message.Operations;
    expect(added).toEqual([
      { op: 'add', value: { [ENTERPRISE]: { department: 'Research', manager: { value: '9' } } } },
    ]);
  });
});

describe('value filters that match nothing yet (Entra: "add this entry")', () => {
  const user = { phoneNumbers: [{ type: 'Work', value: '+1' }] };

  it('rewrites Add and Replace to an add of the entry the filter describes', () => {
    const { Operations } = withFilteredEntries(shape('phone-mobile-add'), user);
    expect(Operations).toEqual([
      { op: 'add', path: 'phoneNumbers', value: [{ type: 'mobile', value: '+44 7700 900123' }] },
    ]);
  });

  it('leaves a filter that matches an entry (letter case aside), a remove, and other filters alone', () => {
    const work = shape('phone-work-replace');
    expect(withFilteredEntries(work, user)).toEqual(work);
    const fax = shape('phone-fax-remove');
    expect(withFilteredEntries(fax, user)).toEqual(fax);
    const or = normalizePatch(
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'phoneNumbers[type eq "a" or type eq "b"].value', value: 'x' }],
      },
      'User',
    );
    expect(withFilteredEntries(or, user)).toEqual(or);
    const homeEmail = normalizePatch(
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'emails[type eq "home"].value', value: 'ada@home.example' }],
      },
      'User',
    );
    expect(withFilteredEntries(homeEmail, user)).toEqual(homeEmail);
  });

  it('creates one entry for several sub-attributes of it in one message', () => {
    const { Operations } = withFilteredEntries(shape('address-work-several-add'), {});
    expect(Operations[0]).toEqual({
      op: 'add',
      path: 'addresses',
      value: [{ type: 'work', streetAddress: '1 Microsoft Way' }],
    });
    expect(Operations.slice(1).map((o) => o.path)).toEqual([
      'addresses[type eq "work"].locality',
      'addresses[type eq "work"].postalCode',
      'addresses[type eq "work"].country',
    ]);
  });
});
