import { parseFilter } from '../../src/scim/filter';
import {
  attributePaths,
  FilterSyntaxError,
  parseFilterTree,
  parsePatchPath,
  termCount,
  toDnf,
} from '../../src/scim/filterSyntax';
import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_TERMS } from '../../src/scim/inputLimits';
import { looksLikeEmail } from '../../src/scim/userMapping';

const dnf = (f: string) => JSON.parse(JSON.stringify(toDnf(parseFilterTree(f))));
const pairs = (n: number) => Array.from({ length: n }, (_, i) => `(a eq ${i} or b eq ${i})`).join(' and ');

describe('filter syntax (our own reader in front of every library)', () => {
  it('reads the RFC 7644 grammar into the DNF the evaluator takes', () => {
    expect(dnf('userName eq "a"')).toEqual([{ userName: ['eq', 'a'] }]);
    expect(dnf('((userName eq "a"))')).toEqual([{ userName: ['eq', 'a'] }]);
    expect(dnf('UserName eq "a" and userName ne "b"')).toEqual([
      {
        userName: [
          ['eq', 'a'],
          ['ne', 'b'],
        ],
      },
    ]);
    expect(dnf('name.givenName sw "A" or title pr')).toEqual([{ name: { givenName: ['sw', 'A'] } }, { title: ['pr'] }]);
    expect(dnf('a eq 1 and (b eq 2 or (c eq 3 and d eq 4))')).toEqual([
      { a: ['eq', 1], b: ['eq', 2] },
      { a: ['eq', 1], c: ['eq', 3], d: ['eq', 4] },
    ]);
    expect(dnf('emails[type eq "work" and value co "x"]')).toEqual([
      { emails: { type: ['eq', 'work'], value: ['co', 'x'] } },
    ]);
    expect(dnf('emails[type eq "work"].value eq "x"')).toEqual([
      { emails: { type: ['eq', 'work'], value: ['eq', 'x'] } },
    ]);
    expect(dnf('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"')).toEqual([
      { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department': ['eq', 'R&D'] },
    ]);
    // Strings are single tokens: brackets, quotes and keywords inside them are data.
    expect(dnf('displayName eq "x) or (y [\\"]"')).toEqual([{ displayName: ['eq', 'x) or (y ["]'] }]);
    expect(dnf('active eq True and x eq null and n gt -1.5e2')).toEqual([
      { active: ['eq', true], x: ['eq', null], n: ['gt', -150] },
    ]);
  });

  it('applies not by De Morgan (scimmy turned not (a or b) into not a or not b, and dropped a trailing not)', () => {
    expect(dnf('not (a eq 1 or b eq 2)')).toEqual([{ a: ['not', 'eq', 1], b: ['not', 'eq', 2] }]);
    expect(dnf('not (a eq 1 and b eq 2)')).toEqual([{ a: ['not', 'eq', 1] }, { b: ['not', 'eq', 2] }]);
    expect(dnf('(a eq 1 or b eq 2) and not (c eq 3)')).toEqual([
      { a: ['eq', 1], c: ['not', 'eq', 3] },
      { b: ['eq', 2], c: ['not', 'eq', 3] },
    ]);
    expect(dnf('not (not (a eq 1))')).toEqual([{ a: ['eq', 1] }]);
  });

  it('counts the expanded terms on the tree, without expanding it', () => {
    expect(termCount(parseFilterTree(pairs(8)))).toBe(256);
    expect(termCount(parseFilterTree('not (a eq 1 and b eq 2 and c eq 3)'))).toBe(3);
    expect(termCount(parseFilterTree(`not (${pairs(3)})`))).toBe(3);
    expect(termCount(parseFilterTree('not (a eq 1 and b eq 2) and not (c eq 3 and d eq 4)'))).toBe(4);
    // 2^60 terms: expanding would never finish; counting saturates just above the limit.
    expect(termCount(parseFilterTree(pairs(60)))).toBe(MAX_FILTER_TERMS + 1);
    expect(() => parseFilter(pairs(60))).toThrow(/more than 256 OR'd terms/);
  });

  it('refuses object machinery in paths, and paths deeper than attr.subAttr', () => {
    for (const f of [
      'name.__proto__ eq "x"',
      '__proto__ pr',
      'constructor.prototype.x eq 1',
      'Prototype eq 1',
      'a.b.c eq 1',
    ]) {
      expect(() => parseFilterTree(f)).toThrow(FilterSyntaxError);
    }
    expect(() => parsePatchPath('members[value eq "1" or value.__proto__.z eq "2"]', 1024)).toThrow(/__proto__/);
  });

  it('reads bare-word values as the strings they spell, and keeps quoted strings, numbers and keywords', () => {
    expect(dnf('name.familyName eq Employee')).toEqual([{ name: { familyName: ['eq', 'Employee'] } }]);
    expect(dnf('userName sw O')).toEqual([{ userName: ['sw', 'O'] }]);
    expect(dnf('meta.created gt 2015-10-10T14:38:21-07:00')).toEqual([
      { meta: { created: ['gt', '2015-10-10T14:38:21-07:00'] } },
    ]);
    expect(dnf('a eq "true" and b eq true and c eq null and d eq 12 and e eq "12"')).toEqual([
      { a: ['eq', 'true'], b: ['eq', true], c: ['eq', null], d: ['eq', 12], e: ['eq', '12'] },
    ]);
    expect(dnf('emails[type eq work]')).toEqual([{ emails: { type: ['eq', 'work'] } }]);
    // A bracket or parenthesis is never part of a bare word.
    expect(() => parseFilterTree('userName eq (')).toThrow(FilterSyntaxError);
    expect(() => parseFilterTree('userName eq a b')).toThrow(FilterSyntaxError);
  });

  it('refuses what the grammar does not allow, in its own words', () => {
    for (const f of [
      '',
      'userName',
      'userName eq',
      'userName eq "a" and',
      'eq "a"',
      '1 eq 2',
      'userName xx "a"',
      '"x" eq "y"',
      '(userName eq "a"',
      'userName eq "a")',
      'not userName eq "a"',
      'emails[type eq "a"',
      'emails[members[value eq "1"]]',
      'userName eq "unterminated',
    ]) {
      expect(() => parseFilterTree(f)).toThrow(FilterSyntaxError);
    }
    expect(() => parseFilterTree(`${'('.repeat(MAX_FILTER_DEPTH + 1)}a pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`)).toThrow(
      /deeper/,
    );
    expect(() => parseFilterTree(`a eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`)).toThrow(/longer/);
  });

  it('reads PATCH paths, value filters included, and lists the attributes a filter compares', () => {
    expect(parsePatchPath('emails[type eq "work"].value', 1024)).toMatchObject({
      attribute: 'emails',
      subAttribute: 'value',
    });
    expect(parsePatchPath('members[value eq "]"]', 1024).filter).toEqual({
      kind: 'compare',
      path: 'value',
      op: 'eq',
      value: ']',
    });
    expect(() => parsePatchPath('emails[type eq "work"] x', 1024)).toThrow(FilterSyntaxError);
    expect(() => parsePatchPath(`emails[${'['.repeat(2000)}`, 1024)).toThrow(/longer/);
    expect(attributePaths(parseFilterTree('emails[type eq "w"] and name.givenName pr'))).toEqual([
      'emails.type',
      'name.givenName',
    ]);
  });
});

describe('email shape (linear, capped)', () => {
  it('accepts ordinary addresses and refuses the rest without a backtracking pattern', () => {
    expect(looksLikeEmail(' Ada.Lovelace+scim@example.co.uk ')).toBe(true);
    for (const bad of [
      'a@b',
      '@b.c',
      'a@.c',
      'a@b.',
      'a b@c.d',
      'a@b@c.d',
      `a@${'.'.repeat(50_000)}@`,
      `${'a'.repeat(250)}@example.com`,
    ]) {
      expect(looksLikeEmail(bad)).toBe(false);
    }
  });
});
