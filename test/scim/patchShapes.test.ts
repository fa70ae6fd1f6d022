import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ScimBadRequest } from '../../src/scim/errors';
import { booleanise, normalizePatch } from '../../src/scim/patchShapes';

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
