import { ScimBadRequest } from '../../src/scim/errors';
import { dateBounds, equalityValues, parseFilter, readFilter } from '../../src/scim/filter';

const ada = {
  id: '42',
  externalId: 'Ext-1',
  userName: 'Ada@Example.com',
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  active: true,
  emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
  meta: { created: '2024-01-02T03:04:05Z', lastModified: '2024-03-01T00:00:00Z' },
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: '7' },
};

const match = (f: string, resource: unknown = ada) => readFilter(f).matches(resource);

describe('SCIM filters (RFC 7644 §3.4.2.2)', () => {
  it('compares userName and emails case-insensitively', () => {
    expect(match('userName eq "ADA@EXAMPLE.COM"')).toBe(true);
    expect(match('emails.value eq "ADA@example.com"')).toBe(true);
    expect(match('emails[type eq "WORK" and value co "ada"]')).toBe(true);
    expect(match('userName eq "bob@example.com"')).toBe(false);
  });

  it('keeps id and externalId case-exact', () => {
    expect(match('externalId eq "Ext-1"')).toBe(true);
    expect(match('externalId eq "ext-1"')).toBe(false);
  });

  it('handles every operator, not, and/or grouping, sub-attributes and extension URNs', () => {
    expect(match('name.familyName sw "love" and name.givenName ew "DA"')).toBe(true);
    expect(match('not (active eq false)')).toBe(true);
    expect(match('active eq "False" or userName pr')).toBe(true);
    expect(match('title pr')).toBe(false);
    expect(match('title np')).toBe(true);
    expect(match('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"')).toBe(true);
    expect(match('meta.created gt "2024-01-01T00:00:00Z" and meta.lastModified lt "2024-04-01"')).toBe(true);
    expect(match('meta.created ge "2024-01-02T03:04:06Z"')).toBe(false);
    expect(match('userName ne "ada@example.com"')).toBe(false);
  });

  it('rejects malformed filters with invalidFilter', () => {
    for (const bad of [
      'userName eq',
      '((userName eq "a"',
      'userName',
      'eq "a"',
      'userName eq "a" and',
      'userName xx "a"',
    ]) {
      let caught: unknown;
      try {
        parseFilter(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ScimBadRequest);
      expect((caught as ScimBadRequest).scimType).toBe('invalidFilter');
    }
  });

  it('extracts equality values only when every disjunct carries one', () => {
    expect(equalityValues(parseFilter('userName eq "a@x.io" or userName eq "b@x.io"'), ['userName'])).toEqual([
      'a@x.io',
      'b@x.io',
    ]);
    expect(equalityValues(parseFilter('userName eq "a@x.io" or active eq true'), ['userName'])).toBeUndefined();
    expect(equalityValues(parseFilter('emails[value eq "a@x.io"]'), ['emails', 'value'])).toEqual(['a@x.io']);
  });

  it('derives date bounds for pushdown only from a single AND term', () => {
    const f = parseFilter('meta.created ge "2024-01-01T00:00:00Z" and meta.created lt "2024-02-01" and active eq true');
    expect(dateBounds(f, ['meta', 'created'])).toEqual({
      from: Date.parse('2024-01-01T00:00:00Z'),
      to: Date.parse('2024-02-01'),
    });
    expect(
      dateBounds(parseFilter('meta.created gt "2024-01-01" or userName eq "x"'), ['meta', 'created']),
    ).toBeUndefined();
    expect(dateBounds(parseFilter('userName eq "x"'), ['meta', 'created'])).toBeUndefined();
  });

  it('decides a 256-term filter by its 16 comparisons: any one pair of each AND is enough', () => {
    const pairs = (n: number, hit: number) =>
      Array.from({ length: n }, (_, i) =>
        i === hit
          ? '(userName eq "ada@example.com" or displayName eq "b")'
          : `(userName eq "q${i}" or name.givenName eq "ADA")`,
      ).join(' and ');
    const parsed = readFilter(pairs(8, 3));
    expect(parsed.terms).toBe(256);
    expect(parsed.matches(ada)).toBe(true);
    expect(readFilter(pairs(8, 3).replace('name.givenName eq "ADA"', 'name.givenName eq "Bob"')).matches(ada)).toBe(
      false,
    );
  });

  it('finds attributes in any letter case, extension attributes by URN, and nothing on non-objects', () => {
    expect(match('USERNAME eq "ada@example.com" and Name.FamilyName eq "lovelace"')).toBe(true);
    expect(match('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:EmployeeNumber eq "7"')).toBe(true);
    expect(match('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "8"')).toBe(false);
    expect(match('userName pr', null)).toBe(false);
    expect(match('userName np', 'text')).toBe(true);
  });

  it('holds a bracket to one and the same value of a multi-valued attribute', () => {
    const two = {
      ...ada,
      emails: [
        { value: 'a@x.io', type: 'home' },
        { value: 'b@x.io', type: 'work' },
      ],
    };
    expect(match('emails[type eq "work" and value eq "b@x.io"]', two)).toBe(true);
    expect(match('emails[type eq "work" and value eq "a@x.io"]', two)).toBe(false);
    expect(match('emails[type eq "work"].value eq "b@x.io"', two)).toBe(true);
    expect(match('emails[type eq "home" or type eq "other"]', two)).toBe(true);
  });

  it('negates a comparison on a multi-valued attribute as a whole: not a member of the group', () => {
    const member = { id: '1', groups: [{ value: '5' }, { value: '6' }] };
    expect(match('groups.value eq "5"', member)).toBe(true);
    expect(match('not (groups.value eq "5")', member)).toBe(false);
    expect(match('not (groups.value eq "7")', member)).toBe(true);
    // Group ids are case-exact; numbers compare with their text.
    expect(match('groups[value eq "5"]', { groups: [{ value: 5 }] })).toBe(true);
  });
});
