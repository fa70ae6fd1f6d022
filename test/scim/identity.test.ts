import fc from 'fast-check';
import {
  emailDefect,
  hasInvisibleCharacters,
  identityKey,
  invisibleCodePoints,
  sameIdentity,
} from '../../src/scim/identity';
import lookalikes from '../fixtures/scim/identity-lookalikes.json';

/** Characters that render as nothing, from every family the key removes. */
const INVISIBLES = [
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\u180e',
  '\ufe0f',
  '\u034f',
  '\u3164',
  '\uffa0',
  '\u{e0001}',
];

const unicodeText = fc.string({ unit: 'grapheme', maxLength: 40 });
const anyText = fc.oneof(unicodeText, fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 40 }));

/** A text with invisible characters put in at arbitrary places. */
const withInvisibles = (text: string, picks: Array<[number, number]>): string => {
  const chars = [...text];
  for (const [at, which] of picks) chars.splice(at % (chars.length + 1), 0, INVISIBLES[which % INVISIBLES.length]);
  return chars.join('');
};

describe('identityKey', () => {
  it.each(lookalikes.cases)('reads a look-alike as its plain identity: $why', ({ lookalike, plain }) => {
    expect(identityKey(lookalike)).toBe(identityKey(plain));
    expect(sameIdentity(lookalike, plain)).toBe(true);
  });

  it.each(lookalikes.distinct)('keeps distinct identities apart: %j and %j', (a, b) => {
    expect(identityKey(a)).not.toBe(identityKey(b));
    expect(sameIdentity(a, b)).toBe(false);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(anyText, (text) => identityKey(identityKey(text)) === identityKey(text)),
      { numRuns: 2000 },
    );
  });

  it('leaves no invisible character, whatever the input', () => {
    fc.assert(
      fc.property(anyText, (text) => !hasInvisibleCharacters(identityKey(text))),
      { numRuns: 2000 },
    );
  });

  it('is not moved by invisible characters inserted anywhere', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
        (text, picks) => identityKey(withInvisibles(text, picks)) === identityKey(text),
      ),
    );
  });

  it('is already NFKC and lower-case', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const key = identityKey(text);
        return key.normalize('NFKC') === key && key.toLowerCase() === key && key.trim() === key;
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with NFKC and letter case for text without invisible characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), (text) => {
        return identityKey(text) === text.normalize('NFKC').toLowerCase().trim();
      }),
    );
  });

  it("treats JavaScript's object machinery as plain text", () => {
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      expect(identityKey(name)).toBe(name.toLowerCase());
      expect(identityKey(`\u200b${name.toUpperCase()}`)).toBe(name.toLowerCase());
    }
    expect(sameIdentity('__proto__', '\uff3f\uff3fproto\uff3f\uff3f')).toBe(true);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('answers a megabyte in one linear pass, never longer than NFKC makes it', () => {
    const invisibleMegabyte = '\u200b'.repeat(1_000_000);
    expect(identityKey(invisibleMegabyte)).toBe('');
    const mixed = `${'a\u200d'.repeat(300_000)}\uff33`;
    const key = identityKey(mixed);
    expect(key).toBe(`${'a'.repeat(300_000)}s`);
    // U+FDFA is the longest NFKC expansion (18 characters): the bound of every key's length.
    expect(identityKey('\ufdfa'.repeat(10_000)).length).toBeLessThanOrEqual(18 * 10_000);
    fc.assert(fc.property(anyText, (text) => identityKey(text).length <= 18 * text.length));
  });
});

describe('invisibleCodePoints', () => {
  it('names each invisible character once, as a code point, up to the limit', () => {
    expect(invisibleCodePoints('a\u200bb\u200b\ufeff\u{e0001}')).toEqual(['U+200B', 'U+FEFF', 'U+E0001']);
    expect(invisibleCodePoints(INVISIBLES.join(''), 3)).toHaveLength(3);
    expect(invisibleCodePoints('alice@example.com')).toEqual([]);
  });
});

describe('emailDefect', () => {
  it('accepts plain addresses, international ones in NFC included', () => {
    expect(emailDefect('alice@example.com')).toBeUndefined();
    expect(emailDefect('ALICE@Example.com')).toBeUndefined();
    expect(emailDefect('jos\u00e9@example.com')).toBeUndefined();
  });

  it('names the invisible characters of an address', () => {
    expect(emailDefect('alice@example.com\u200b')).toMatch(/invisible characters \(U\+200B\)/);
    expect(emailDefect('al\u00adice@exa\u2060mple.com')).toMatch(/U\+00AD, U\+2060/);
  });

  it('refuses compatibility forms Kit would hold as a different address', () => {
    expect(emailDefect('\uff41lice@example.com')).toMatch(/compatibility characters/);
    expect(emailDefect('jose\u0301@example.com')).toMatch(/compatibility characters/);
  });

  it('finds a defect in every address that reads as another', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), anyText, (local, noise) => {
        const email = `${local}${noise}@example.com`;
        return identityKey(email) === email.toLowerCase().trim() || emailDefect(email) !== undefined;
      }),
      { numRuns: 2000 },
    );
  });
});
