import { CORE_USER } from '../../../src/config/mapping/catalog';
import type { SourcePath } from '../../../src/config/mapping/model';
import { readSource, writeSource } from '../../../src/config/mapping/sourcePath';
import {
  decodeValue,
  encodeValue,
  MAX_KIT_FIELD_VALUE_LENGTH,
  UnstorableValueError,
} from '../../../src/scim/mapping/valueCodec';

// Values as Kit's text fields hold them, and back: each SCIM type round-trips to the same value and type.

describe('value codec', () => {
  it.each([
    ['string', 'Ada', 'Ada'],
    ['boolean', true, 'true'],
    ['boolean', false, 'false'],
    ['integer', -42, '-42'],
    ['decimal', 0.1, '0.1'],
    ['dateTime', '2024-02-29T23:59:59.000Z', '2024-02-29T23:59:59.000Z'],
    ['complex', [{ type: 'work', country: 'Germany' }], '[{"type":"work","country":"Germany"}]'],
    ['complex', { value: 'boss' }, '{"value":"boss"}'],
  ] as const)('%s %j is stored as %j and read back the same', (type, value, text) => {
    expect(encodeValue(value, type, 'a')).toBe(text);
    expect(decodeValue(text, type)).toEqual(value);
  });

  it('clears the field for absent, null, empty and all-null complex values', () => {
    for (const v of [undefined, null, '', [], [{ country: null }]]) expect(encodeValue(v, 'complex', 'a')).toBeNull();
    expect(encodeValue('', 'string', 'a')).toBeNull();
  });

  it('refuses a value longer than a Kit field holds, naming the attribute, instead of truncating it', () => {
    expect(encodeValue('x'.repeat(MAX_KIT_FIELD_VALUE_LENGTH), 'string', 'a')).toHaveLength(MAX_KIT_FIELD_VALUE_LENGTH);
    expect(() => encodeValue('x'.repeat(MAX_KIT_FIELD_VALUE_LENGTH + 1), 'string', 'name.formatted')).toThrow(
      UnstorableValueError,
    );
    expect(() => encodeValue('x'.repeat(MAX_KIT_FIELD_VALUE_LENGTH + 1), 'string', 'name.formatted')).toThrow(
      /name\.formatted is 2001 characters/,
    );
  });

  it('leaves out text edited in Kit that does not read as the mapped type, and never revives prototype keys', () => {
    expect(decodeValue('yes', 'boolean')).toBeUndefined();
    expect(decodeValue('7.5', 'integer')).toBeUndefined();
    expect(decodeValue('not json', 'complex')).toBeUndefined();
    const v = decodeValue('{"__proto__":{"polluted":1},"a":1}', 'complex') as Record<string, unknown>;
    expect(v).toEqual({ a: 1 });
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });
});

describe('source paths on a SCIM body', () => {
  const work: SourcePath = {
    text: 'phoneNumbers[type eq "work"].value',
    schema: CORE_USER,
    attribute: 'phoneNumbers',
    typeValue: 'work',
    sub: 'value',
  };
  it('reads and writes one value of a multi-valued attribute by its type', () => {
    const user = {
      phoneNumbers: [
        { type: 'mobile', value: '1' },
        { type: 'Work', value: '2' },
      ],
    };
    expect(readSource(user, work)).toBe('2');
    const out: Record<string, unknown> = {};
    writeSource(out, work, '3');
    writeSource(out, { ...work, typeValue: 'mobile' }, '4');
    expect(out).toEqual({
      phoneNumbers: [
        { type: 'work', value: '3' },
        { type: 'mobile', value: '4' },
      ],
    });
  });
});
