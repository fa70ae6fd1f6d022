import { ScimBadRequest } from '../../src/scim/errors';
import { filterReads, MAX_COUNT, parseListQuery } from '../../src/scim/listQuery';
import { DEFAULT_MAPPING } from '../../src/config/mapping/defaultMapping';
import { GROUP_ATTRIBUTES } from '../../src/scim/schemas';
import { userSchemaFor } from '../../src/scim/userSchema';

const USER = userSchemaFor(DEFAULT_MAPPING);

describe('list query parameters (RFC 7644 §3.4.2)', () => {
  it('applies the RFC defaults and bounds', () => {
    expect(parseListQuery({}, ['id'])).toMatchObject({ startIndex: 1, count: 100, sortOrder: 'ascending' });
    expect(parseListQuery({ startIndex: '-5', count: '-1' }, ['id'])).toMatchObject({ startIndex: 1, count: 0 });
    expect(parseListQuery({ count: '50000' }, ['id']).count).toBe(MAX_COUNT);
    expect(parseListQuery({ sortBy: 'ID', sortOrder: 'Descending' }, ['id'])).toMatchObject({
      sortBy: 'id',
      sortOrder: 'descending',
    });
  });

  it('takes a POST /.search body with integers and attribute arrays (RFC 7644 §3.4.3)', () => {
    const q = parseListQuery(
      { startIndex: 11, count: 5, attributes: ['userName', 'emails'], filter: 'active eq true' },
      ['id'],
    );
    expect(q).toMatchObject({ startIndex: 11, count: 5, attributes: 'userName,emails' });
    expect(() => parseListQuery({ count: 2.5 }, ['id'])).toThrow(ScimBadRequest);
    expect(() => parseListQuery({ attributes: [1, 2] }, ['id'])).toThrow(ScimBadRequest);
  });

  it('reads a value filter in attributes / excludedAttributes as the attribute it filters', () => {
    expect(
      parseListQuery({ attributes: 'emails[type eq "work"],emails[value eq "a,b]"].value,userName' }, ['id']),
    ).toMatchObject({ attributes: 'emails,emails.value,userName' });
    expect(parseListQuery({ excludedAttributes: ['phoneNumbers[type eq mobile].value'] }, ['id'])).toMatchObject({
      excludedAttributes: 'phoneNumbers.value',
    });
    expect(() => parseListQuery({ attributes: 'emails[type eq "work"' }, ['id'])).toThrow(/not a list of attribute/);
    expect(() => parseListQuery({ attributes: 'emails[type eq "work"] x' }, ['id'])).toThrow(ScimBadRequest);
    expect(() => parseListQuery({ attributes: 'emails[a eq 1],'.repeat(65) }, ['id'])).toThrow(/more than 64/);
    expect(() => parseListQuery({ attributes: `emails[a eq "${'x'.repeat(20_000)}"]` }, ['id'])).toThrow(/longer/);
  });

  it('refuses non-integers, repeated parameters and unsupported sort attributes', () => {
    expect(() => parseListQuery({ count: 'ten' }, ['id'])).toThrow(ScimBadRequest);
    expect(() => parseListQuery({ count: ['1', '2'] }, ['id'])).toThrow(ScimBadRequest);
    expect(() => parseListQuery({ sortBy: 'nickName' }, ['id'])).toThrow(
      /"nickName" is not supported: this server does not sort/,
    );
    expect(() => parseListQuery({ filter: 'userName xx "a"' }, ['id'])).toThrow(ScimBadRequest);
  });

  it('refuses a cursor request count above maxPageSize as invalidCount; index paging reads it as the maximum', () => {
    const scimTypeOf = (params: Record<string, unknown>): string | undefined => {
      try {
        parseListQuery(params, ['id']);
      } catch (err) {
        if (err instanceof ScimBadRequest) return err.scimType;
        throw err;
      }
      return undefined;
    };
    expect(scimTypeOf({ cursor: '', count: String(MAX_COUNT + 1) })).toBe('invalidCount');
    expect(scimTypeOf({ cursor: '', count: MAX_COUNT + 1 })).toBe('invalidCount');
    expect(scimTypeOf({ cursor: '', count: '9'.repeat(400) })).toBe('invalidCount');
    expect(scimTypeOf({ cursor: '', count: 'ten' })).toBe('invalidCount');
    expect(scimTypeOf({ cursor: '', count: 2.5 })).toBe('invalidCount');
    expect(parseListQuery({ cursor: '', count: String(MAX_COUNT) }, ['id']).count).toBe(MAX_COUNT);
    expect(parseListQuery({ cursor: '', count: '-3' }, ['id']).count).toBe(0);
    expect(parseListQuery({ cursor: '' }, ['id']).count).toBe(100);
    expect(parseListQuery({ count: String(MAX_COUNT + 1) }, ['id']).count).toBe(MAX_COUNT);
  });

  it('names the attributes a filter reads from its tree, not from words in its values', () => {
    const reads = (filter: string, name: string) => filterReads(parseListQuery({ filter }, ['id'], USER), name);
    expect(reads('displayName co "groups"', 'groups')).toBe(false);
    expect(reads('userName eq "groups@example.com"', 'groups')).toBe(false);
    expect(reads('groups.value eq "7"', 'groups')).toBe(true);
    expect(reads('groups[display co "x"]', 'groups')).toBe(true);
    expect(reads('urn:ietf:params:scim:schemas:core:2.0:User:groups.value eq "7"', 'groups')).toBe(true);
    expect(reads('not (userName eq "a") or groups.display sw "E"', 'groups')).toBe(true);
    expect(filterReads(parseListQuery({}, ['id']), 'groups')).toBe(false);
    const groups = (filter: string) => filterReads(parseListQuery({ filter }, ['id'], GROUP_ATTRIBUTES), 'members');
    expect(groups('displayName co "members"')).toBe(false);
    expect(groups('members.value eq "42"')).toBe(true);
  });
});
