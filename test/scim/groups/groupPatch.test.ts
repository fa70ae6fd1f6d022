import table from '../../fixtures/scim/group-patches.json';
import { planGroupPatch, readMemberIds } from '../../../src/scim/groups/groupPatch';
import { MAX_GROUP_MEMBERS_PER_REQUEST } from '../../../src/scim/inputLimits';
import { normalizePatch } from '../../../src/scim/patchShapes';
import { expectScimFailure } from '../../support/scim';

// The PATCH shapes Okta's and Entra's Group Push send, each turned into a plan of tag operations without
// reading the membership (test/fixtures/scim/group-patches.json holds the shapes and their plans).

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const plan = (Operations: unknown[]) => planGroupPatch(normalizePatch({ schemas: [PATCH], Operations }, 'Group'));

describe('planGroupPatch', () => {
  it.each(table.plans)('plans $shape', ({ operations, plan: expected }) => {
    expect(plan(operations)).toEqual(expected);
  });

  it.each(table.refusals)('refuses $shape', async ({ operations, status, scimType }) => {
    await expectScimFailure(() => plan(operations), status, scimType);
  });

  it(`refuses a request naming more than ${MAX_GROUP_MEMBERS_PER_REQUEST} members across its operations`, async () => {
    const members = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ value: String(from + i) }));
    const half = MAX_GROUP_MEMBERS_PER_REQUEST / 2;
    // Exactly the limit passes; one more over two operations does not.
    expect(
      plan([
        { op: 'add', path: 'members', value: members(1, half) },
        { op: 'remove', path: 'members', value: members(half + 1, half) },
      ]).remove,
    ).toHaveLength(half);
    await expectScimFailure(
      () =>
        plan([
          { op: 'add', path: 'members', value: members(1, half) },
          { op: 'remove', path: 'members', value: members(half + 1, half + 1) },
        ]),
      400,
      'invalidValue',
    );
  });
});

describe('readMemberIds', () => {
  it('reads ids from member objects, bare ids and numbers, naming the list in its refusal', async () => {
    expect(readMemberIds([{ value: '1' }, 2, '3'], 'members')).toEqual(['1', '2', '3']);
    const err = await expectScimFailure(
      () => readMemberIds([{ value: '1' }, null], 'Operation 2'),
      400,
      'invalidValue',
    );
    expect(err.detail).toMatch(/^Operation 2:/);
  });
});
