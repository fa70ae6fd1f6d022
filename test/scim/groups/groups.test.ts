import { CORE_GROUP } from '../../../src/scim/groups/groups';
import { parseListQuery } from '../../../src/scim/listQuery';
import { buildCore, type Core } from '../../support/coreServices';
import { expectScimFailure } from '../../support/scim';

// GroupDirectory and TagMembership over the in-memory Kit: groups are tags, members are taggings, DELETE
// retires the tag. What each write asks of Kit, and what it leaves in Kit.

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH], Operations });
const members = (...ids: number[]) => ids.map((id) => ({ value: String(id) }));

/** Users 1..n as Kit subscribers made through the server's own create. */
async function withUsers(core: Core, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 1; i <= n; i++) {
    const email = `user${i}@example.com`;
    ids.push(Number((await core.users.create({ userName: email, emails: [{ value: email, primary: true }] })).id));
  }
  core.kit.clearCalls();
  return ids;
}

async function group(core: Core, displayName: string, ...memberIds: number[]) {
  const { group: made } = await core.groups.create({
    schemas: [CORE_GROUP],
    displayName,
    members: members(...memberIds),
  });
  core.kit.clearCalls();
  return made;
}

/** Calls that read a tag's members (one per page). */
const membershipReads = (core: Core, tagId: number) =>
  core.kit.calls.filter((c) => c.name === 'tags.subscribers' && c.args[0] === tagId).length;

describe('GroupDirectory.create', () => {
  it('creates the tag and tags its members in one bulk call', async () => {
    const core = await buildCore();
    const [a, b] = await withUsers(core, 2);
    const { group: made, change } = await core.groups.create({
      schemas: [CORE_GROUP],
      displayName: 'Engineering',
      members: members(a, b),
    });

    const tag = core.kit.tagNamed('Engineering')!;
    expect(made).toMatchObject({ id: String(tag.id), displayName: 'Engineering', members: members(a, b) });
    expect(change.skipped).toEqual([]);
    expect(core.kit.membersOf(tag.id)).toEqual([a, b]);
    // The tag list is the one cached at start-up; the deleted users are read once, so none is tagged. The
    // members are read back, so that the create answers them (with display) as a later GET does.
    const deletedTag = core.kit.tagNamed('scim:deleted-users')!;
    expect(core.kit.calls.map((c) => (c.name === 'tags.subscribers' ? [c.name, c.args[0]] : c.name))).toEqual([
      'tags.createIfFree',
      ['tags.subscribers', deletedTag.id],
      'bulk.tagSubscribers',
      ['tags.subscribers', tag.id],
    ]);
    expect(made.members).toEqual(made.members!.map((m) => ({ ...m, display: expect.any(String) })));
    expect(core.events.groupWrites).toEqual([
      { groupId: String(tag.id), kind: 'created', attributes: ['displayName', 'members'] },
    ]);
  });

  it('skips members that are no users (unknown to Kit, deleted, not an id) and reports them', async () => {
    const core = await buildCore();
    const [a, b] = await withUsers(core, 2);
    await core.users.delete(String(b));
    const { change } = await core.groups.create({
      schemas: [CORE_GROUP],
      displayName: 'Sales',
      members: [...members(a, b, 9999), { value: 'okta-00u1' }],
    });
    expect(new Set(change.skipped)).toEqual(new Set([String(b), '9999', 'okta-00u1']));
    expect(core.kit.membersOf(core.kit.tagNamed('Sales')!.id)).toEqual([a]);
    expect(core.events.membersSkipped).toHaveLength(1);
  });

  it('refuses a name an existing tag holds, in any letter case or look-alike form, with 409 uniqueness', async () => {
    const core = await buildCore();
    core.kit.seedTag('Engineering');
    // The tag list as a fresh read finds it (the cached one is covered below).
    core.catalog.invalidate();
    await expectScimFailure(
      core.groups.create({ schemas: [CORE_GROUP], displayName: 'ENGINEERING' }),
      409,
      'uniqueness',
    );
    await expectScimFailure(
      core.groups.create({ schemas: [CORE_GROUP], displayName: 'Ｅngineering' }),
      409,
      'uniqueness',
    );
    expect(core.kit.callNames()).not.toContain('tags.createIfFree');
  });

  it('answers 409 when Kit finds the name taken although the cached tag list did not show it', async () => {
    const core = await buildCore();
    await core.catalog.all({});
    core.kit.seedTag('Marketing');
    await expectScimFailure(core.groups.create({ schemas: [CORE_GROUP], displayName: 'Marketing' }), 409, 'uniqueness');
  });

  it("refuses a name in the server's reserved name space before any Kit call", async () => {
    const core = await buildCore();
    await expectScimFailure(
      core.groups.create({ schemas: [CORE_GROUP], displayName: ' scim:deleted-users' }),
      400,
      'invalidValue',
    );
    await expectScimFailure(core.groups.create({ schemas: [CORE_GROUP], displayName: '' }), 400, 'invalidValue');
    expect(core.kit.calls).toEqual([]);
  });
});

describe('GroupDirectory.patch', () => {
  it('adds and removes members without reading the membership', async () => {
    const core = await buildCore();
    const [a, b, c] = await withUsers(core, 3);
    const made = await group(core, 'Engineering', a, b);
    const tagId = Number(made.id);

    await core.groups.patch(
      made.id,
      patch({ op: 'add', path: 'members', value: members(c) }, { op: 'remove', path: `members[value eq "${a}"]` }),
    );

    expect(core.kit.membersOf(tagId)).toEqual([b, c]);
    expect(membershipReads(core, tagId)).toBe(0);
    expect(core.kit.calls.filter((x) => x.name === 'tags.untag').map((x) => x.args)).toEqual([[tagId, a]]);
    expect(core.kit.callNames().filter((n) => n === 'bulk.tagSubscribers')).toHaveLength(1);
  });

  it('reads the membership once instead of spending an untag on each of many ids that are no members', async () => {
    const core = await buildCore();
    const [a, b] = await withUsers(core, 2);
    const made = await group(core, 'Engineering', a, b);
    const tagId = Number(made.id);
    const strangers = Array.from({ length: 12 }, (_, i) => 5000 + i);

    await core.groups.patch(made.id, patch({ op: 'remove', path: 'members', value: members(a, ...strangers) }));

    expect(membershipReads(core, tagId)).toBe(1);
    expect(core.kit.calls.filter((x) => x.name === 'tags.untag').map((x) => x.args)).toEqual([[tagId, a]]);
    expect(core.kit.membersOf(tagId)).toEqual([b]);
  });

  it('renames the tag (Okta pathless replace), and refuses a name another tag holds', async () => {
    const core = await buildCore();
    const made = await group(core, 'Engineering');
    core.kit.seedTag('Sales');
    await core.groups.patch(made.id, patch({ op: 'replace', value: { id: made.id, displayName: 'R&D' } }));
    expect(core.kit.tag(Number(made.id))!.name).toBe('R&D');
    expect(core.events.groupWrites.at(-1)).toEqual({ groupId: made.id, kind: 'patched', attributes: ['displayName'] });

    await expectScimFailure(
      core.groups.patch(made.id, patch({ op: 'replace', path: 'displayName', value: 'sales' })),
      409,
      'uniqueness',
    );
    expect(core.kit.tag(Number(made.id))!.name).toBe('R&D');
  });

  it('on Kit v3 (no tag rename) refuses a rename with 400 mutability', async () => {
    const core = await buildCore({ capabilities: { tagRename: false } });
    const made = await group(core, 'Engineering');
    await expectScimFailure(
      core.groups.patch(made.id, patch({ op: 'replace', path: 'displayName', value: 'R&D' })),
      400,
      'mutability',
    );
    expect(core.kit.callNames()).not.toContain('tags.renameIfFree');
  });

  it('answers 404 for a tag that is no group, and for an id that is no tag id', async () => {
    const core = await buildCore();
    const reserved = core.kit.tagNamed('scim:deleted-users')!;
    await expectScimFailure(core.groups.get(String(reserved.id), true), 404);
    await expectScimFailure(core.groups.patch('abc', patch({ op: 'add', path: 'members', value: [] })), 404);
  });
});

describe('GroupDirectory.replace', () => {
  it('makes the membership exactly the list sent', async () => {
    const core = await buildCore();
    const [a, b, c] = await withUsers(core, 3);
    const made = await group(core, 'Engineering', a, b);
    const { group: replaced } = await core.groups.replace(made.id, {
      schemas: [CORE_GROUP],
      id: made.id,
      displayName: 'Engineering',
      members: members(b, c),
    });
    expect(core.kit.membersOf(Number(made.id))).toEqual([b, c]);
    expect(replaced.members!.map((m) => m.value)).toEqual([String(b), String(c)]);
    expect(replaced.members!.map((m) => m.display)).toEqual(['user2@example.com', 'user3@example.com']);
    expect(core.kit.calls.filter((x) => x.name === 'tags.untag').map((x) => x.args[1])).toEqual([a]);
  });
});

describe('GroupDirectory.delete', () => {
  it('untags every member and retires the tag, freeing its name', async () => {
    const core = await buildCore();
    const [a, b] = await withUsers(core, 2);
    const made = await group(core, 'Engineering', a, b);
    const tagId = Number(made.id);

    await core.groups.delete(made.id);

    // Kit has no tag deletion: the tag stays, renamed into the reserved name space.
    expect(core.kit.tag(tagId)!.name).toBe(`scim:retired:${tagId}:Engineering`);
    expect(core.kit.membersOf(tagId)).toEqual([]);
    await expectScimFailure(core.groups.get(made.id, false), 404);
    const listed = await core.groups.list(parseListQuery({}, ['id', 'displayName']), false);
    expect(listed.resources.map((g) => g.displayName)).toEqual([]);
    // The name is free again.
    const again = await group(core, 'Engineering');
    expect(again.id).not.toBe(made.id);
  });

  it('takes a free retired name when one is already held', async () => {
    const core = await buildCore();
    const made = await group(core, 'Engineering');
    core.kit.seedTag(`scim:retired:${made.id}:Engineering`);
    await core.groups.delete(made.id);
    expect(core.kit.tag(Number(made.id))!.name).toBe(`scim:retired:${made.id}:Engineering~2`);
  });

  it('on Kit v3 untags every member and leaves the empty tag', async () => {
    const core = await buildCore({ capabilities: { tagRename: false } });
    const [a] = await withUsers(core, 1);
    const made = await group(core, 'Engineering', a);
    await core.groups.delete(made.id);
    expect(core.kit.tag(Number(made.id))!.name).toBe('Engineering');
    expect(core.kit.membersOf(Number(made.id))).toEqual([]);
    expect(core.kit.callNames()).not.toContain('tags.renameIfFree');
  });
});

describe('TagMembership', () => {
  it("reads one user's groups with one call, and many users' from an index of one read per group tag", async () => {
    const core = await buildCore();
    const ids = await withUsers(core, 5);
    const eng = await group(core, 'Engineering', ids[0], ids[1]);
    const sales = await group(core, 'Sales', ids[1]);

    expect(await core.membership.ofSubscriber(ids[1], {})).toEqual([
      { value: eng.id, display: 'Engineering' },
      { value: sales.id, display: 'Sales' },
    ]);
    expect(core.kit.callNames()).toEqual(['subscribers.tags']);

    core.kit.clearCalls();
    const many = await core.membership.ofSubscribers(ids, {});
    expect(many.get(ids[0])).toEqual([{ value: eng.id, display: 'Engineering' }]);
    expect(many.get(ids[4])).toEqual([]);
    expect(membershipReads(core, Number(eng.id))).toBe(1);
    expect(membershipReads(core, Number(sales.id))).toBe(1);
    expect(core.kit.callNames().filter((n) => n === 'subscribers.tags')).toEqual([]);
  });

  it("keeps a warm index exact through the server's own group writes, without reading Kit again", async () => {
    const core = await buildCore();
    const ids = await withUsers(core, 4);
    const eng = await group(core, 'Engineering', ids[0]);
    await core.membership.ofSubscribers(ids, {});
    await core.groups.patch(
      eng.id,
      patch(
        { op: 'add', path: 'members', value: members(ids[2]) },
        { op: 'remove', path: 'members', value: members(ids[0]) },
      ),
    );
    core.kit.clearCalls();

    const after = await core.membership.ofSubscribers(ids, {});
    expect(after.get(ids[0])).toEqual([]);
    expect(after.get(ids[2])).toEqual([{ value: eng.id, display: 'Engineering' }]);
    expect(core.kit.calls).toEqual([]);
  });
});
