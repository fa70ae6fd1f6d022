import { clipText, MAX_ATTRIBUTE_PATH_LENGTH, quoteInput } from '../../src/scim/inputLimits';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('clipping client input for error details', () => {
  it('never cuts an attribute path in the middle of its name', () => {
    expect(quoteInput(`${ENTERPRISE}:manager`)).toBe(`"${ENTERPRISE}:manager"`);
    expect(clipText(`Operation 1: ${ENTERPRISE}:employeeNumber is not writable`, 20)).toBe(
      `Operation 1: ${ENTERPRISE}:employeeNumber…`,
    );
    expect(quoteInput(`${ENTERPRISE}:manager.value`, 10)).toBe(`"${ENTERPRISE}:manager.value"`);
  });

  it('cuts at a word boundary as it comes, and keeps short text whole', () => {
    expect(clipText('short', 60)).toBe('short');
    expect(clipText('abc def ghi', 4)).toBe('abc …');
    expect(clipText('abc def', 3)).toBe('abc…');
  });

  it('still clips a hostile run longer than any path at the cap', () => {
    const hostile = 'x'.repeat(100_000);
    expect(clipText(hostile, 60)).toBe(`${'x'.repeat(60)}…`);
    const longest = `a${'b'.repeat(MAX_ATTRIBUTE_PATH_LENGTH - 1)}`;
    expect(clipText(`${'c '.repeat(30)}${longest} tail`, 61)).toBe(`${'c '.repeat(30)}${longest}…`);
  });
});
