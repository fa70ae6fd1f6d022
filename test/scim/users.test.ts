import oktaUser from '../fixtures/scim/okta-user.json';
import { parseListQuery } from '../../src/scim/listQuery';
import { buildCore, CORE_NOW, type Core } from '../support/coreServices';
import { expectScimFailure } from '../support/scim';

// UserDirectory over the in-memory Kit: what each SCIM operation asks of Kit, call by call, and what it refuses
// before asking anything.

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH], Operations });

async function created(core: Core, email = 'ada@example.com') {
  const user = await core.users.create({ ...oktaUser, userName: email, emails: [{ value: email, primary: true }] });
  core.kit.clearCalls();
  return user;
}

describe('UserDirectory.create', () => {
  it('looks the email up once, then creates the subscriber with its mapped fields in one upsert', async () => {
    const core = await buildCore();
    const user = await core.users.create(oktaUser);

    expect(core.kit.callNames()).toEqual(['subscribers.findByEmail', 'subscribers.upsert']);
    const sub = core.kit.subscriber(Number(user.id))!;
    expect(sub).toMatchObject({ email_address: 'ada@example.com', first_name: 'Ada', state: 'active' });
    expect(sub.fields[core.key('scim_family_name')]).toBe('Lovelace');
    expect(sub.fields[core.key('scim_external_id')]).toBe('00u1okta');
    expect(sub.fields[core.key('scim_last_modified')]).toBe(new Date(CORE_NOW).toISOString());
    expect(user).toMatchObject({
      userName: 'ada@example.com',
      active: true,
      externalId: '00u1okta',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: 'ada@example.com', primary: true }],
    });
  });

  it('creates an inactive subscriber for a user pushed as inactive', async () => {
    const core = await buildCore();
    const user = await core.users.create({ ...oktaUser, active: false });
    expect(core.kit.subscriber(Number(user.id))!.state).toBe('inactive');
    expect(user.active).toBe(false);
  });

  it('refuses an email Kit already holds (any letter case) with 409 uniqueness, without touching it', async () => {
    const core = await buildCore();
    const existing = core.kit.seedSubscriber('Ada@Example.com', { first_name: 'Augusta' });
    await expectScimFailure(core.users.create(oktaUser), 409, 'uniqueness');
    // The upsert would have overwritten the existing subscriber's name.
    expect(core.kit.callNames()).toEqual(['subscribers.findByEmail']);
    expect(core.kit.subscriber(existing.id)!.first_name).toBe('Augusta');
  });

  it('refuses to reactivate an unsubscribed email (Kit has no way back) and reports it', async () => {
    const core = await buildCore();
    const gone = core.kit.seedSubscriber('ada@example.com', { state: 'inactive' });
    const err = await expectScimFailure(core.users.create(oktaUser), 409, 'uniqueness');
    expect(err.detail).toMatch(/inactive/);
    expect(core.events.reactivationRejected).toEqual([{ operation: 'create', email: 'ada@example.com' }]);
    expect(core.kit.callNames()).toEqual(['subscribers.findByEmail']);
    expect(core.kit.subscriber(gone.id)!.state).toBe('inactive');
  });

  it('refuses the email of a deleted user with 409 naming the deletion', async () => {
    const core = await buildCore();
    const user = await created(core);
    await core.users.delete(user.id);
    core.kit.clearCalls();
    const err = await expectScimFailure(core.users.create(oktaUser), 409, 'uniqueness');
    expect(err.detail).toMatch(/deleted/i);
    expect(core.kit.callNames()).toEqual(['subscribers.findByEmail']);
  });

  it('refuses a user without any email before any Kit call', async () => {
    const core = await buildCore();
    await expectScimFailure(
      core.users.create({ schemas: oktaUser.schemas, userName: 'jdoe', name: { givenName: 'J' } }),
      400,
      'invalidValue',
    );
    expect(core.kit.calls).toEqual([]);
  });

  it('answers 409 when the email appeared in Kit between the lookup and the upsert, and reports the race', async () => {
    const core = await buildCore();
    // Someone creates the subscriber in Kit just after the server's lookup answered "absent".
    core.kit.subscribers.findByEmail = async (email: string) => {
      core.kit.seedSubscriber(email, { first_name: 'Other' });
      return null;
    };
    await expectScimFailure(core.users.create(oktaUser), 409, 'uniqueness');
    expect(core.events.createRaced).toEqual([{ email: 'ada@example.com', subscriberId: expect.any(Number) }]);
    expect(core.kit.callNames()).toEqual(['subscribers.upsert']);
  });
});

describe('UserDirectory.replace and patch', () => {
  it('replaces with one read, one update and one read of its groups', async () => {
    const core = await buildCore();
    const user = await created(core);
    const replaced = await core.users.replace(user.id, {
      ...oktaUser,
      id: user.id,
      name: { givenName: 'Ada', familyName: 'King' },
    });
    expect(core.kit.callNames()).toEqual(['subscribers.find', 'subscribers.update', 'subscribers.tags']);
    expect(core.kit.calls[1].args[1]).toMatchObject({ fields: { [core.key('scim_family_name')]: 'King' } });
    expect(replaced.name).toEqual({ givenName: 'Ada', familyName: 'King' });
  });

  it('writes nothing when a replace changes nothing', async () => {
    const core = await buildCore();
    const user = await created(core);
    await core.users.replace(user.id, { ...oktaUser, id: user.id });
    expect(core.kit.callNames()).toEqual(['subscribers.find', 'subscribers.tags']);
  });

  it("refuses a replace whose body names another user's id before any Kit call", async () => {
    const core = await buildCore();
    const user = await created(core);
    await expectScimFailure(core.users.replace(user.id, { ...oktaUser, id: '999' }), 400, 'invalidValue');
    expect(core.kit.calls).toEqual([]);
  });

  it("deactivates (Okta's PATCH active=false) with the one-way unsubscribe, the stamp kept in the journal", async () => {
    const core = await buildCore();
    const user = await created(core);
    const patched = await core.users.patch(user.id, patch({ op: 'replace', value: { active: false } }));
    expect(core.kit.callNames()).toEqual(['subscribers.find', 'subscribers.tags', 'subscribers.unsubscribe']);
    expect(patched.active).toBe(false);
    expect(core.kit.subscriber(Number(user.id))!.state).toBe('inactive');
    expect(core.events.deprovisioned).toEqual([{ kind: 'deactivate', id: user.id }]);
    // Still a user: it reads as inactive.
    expect((await core.users.get(user.id)).active).toBe(false);
  });

  it("applies Entra's PATCH shapes (capitalised ops, string booleans, filtered email path) in one update", async () => {
    const core = await buildCore();
    const user = await created(core);
    const patched = await core.users.patch(
      user.id,
      patch(
        // Kit's email follows userName when it is an address, the work email otherwise.
        { op: 'Replace', path: 'userName', value: 'ada.new@example.com' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada.new@example.com' },
        { op: 'Add', path: 'name.familyName', value: 'King' },
        { op: 'Replace', path: 'active', value: 'True' },
      ),
    );
    // The new address is looked up before it is written: the IdP learns who holds it, should anyone.
    expect(core.kit.callNames()).toEqual([
      'subscribers.find',
      'subscribers.tags',
      'subscribers.findByEmail',
      'subscribers.update',
    ]);
    expect(core.kit.subscriber(Number(user.id))).toMatchObject({
      email_address: 'ada.new@example.com',
      state: 'active',
    });
    expect(patched).toMatchObject({
      active: true,
      userName: 'ada.new@example.com',
      emails: [{ value: 'ada.new@example.com' }],
      name: { familyName: 'King' },
    });
  });

  it('refuses to reactivate a deactivated user (400 mutability), writing nothing', async () => {
    const core = await buildCore();
    const user = await created(core);
    await core.users.patch(user.id, patch({ op: 'replace', path: 'active', value: false }));
    core.kit.clearCalls();
    await expectScimFailure(
      core.users.patch(user.id, patch({ op: 'replace', path: 'active', value: true })),
      400,
      'mutability',
    );
    await expectScimFailure(core.users.replace(user.id, { ...oktaUser, id: user.id, active: true }), 400, 'mutability');
    expect(core.kit.callNames()).not.toContain('subscribers.update');
    expect(core.kit.subscriber(Number(user.id))!.state).toBe('inactive');
    expect(core.events.reactivationRejected.map((r) => r.operation)).toEqual(['patch', 'replace']);
  });

  it('refuses a PATCH on an unknown path before reading Kit', async () => {
    const core = await buildCore();
    const user = await created(core);
    await expectScimFailure(
      core.users.patch(user.id, patch({ op: 'replace', path: 'nickName.nope', value: 'x' })),
      400,
      'invalidPath',
    );
    expect(core.kit.calls).toEqual([]);
  });
});

describe('UserDirectory.delete', () => {
  it('untags its groups, unsubscribes, marks it deleted and writes the tombstone last', async () => {
    const core = await buildCore();
    const user = await created(core);
    const group = core.kit.seedTag('Engineering');
    core.kit.seedTagging(group.id, Number(user.id));

    await core.users.delete(user.id);

    const deletedTag = core.kit.tagNamed('scim:deleted-users')!;
    expect(core.kit.callNames()).toEqual([
      'subscribers.find',
      'subscribers.tags',
      'tags.untag',
      'subscribers.unsubscribe',
      'tags.tagSubscriber',
      'subscribers.update',
    ]);
    const sub = core.kit.subscriber(Number(user.id))!;
    expect(sub.state).toBe('inactive');
    expect(sub.fields[core.key('scim_deleted_at')]).toBe(new Date(CORE_NOW).toISOString());
    expect(core.kit.membersOf(group.id)).toEqual([]);
    expect(core.kit.membersOf(deletedTag.id)).toEqual([Number(user.id)]);
    expect(core.events.deprovisioned).toEqual([{ kind: 'delete', id: user.id }]);
  });

  it('makes the user 404 everywhere afterwards (RFC 7644 §3.6)', async () => {
    const core = await buildCore();
    const user = await created(core);
    await core.users.delete(user.id);
    await expectScimFailure(core.users.get(user.id), 404);
    await expectScimFailure(core.users.delete(user.id), 404);
    await expectScimFailure(core.users.patch(user.id, patch({ op: 'replace', value: { active: false } })), 404);
  });

  it('on Kit v3 (tagging subscribes) tags the tombstone before the unsubscribe', async () => {
    const core = await buildCore({ capabilities: { taggingSubscribes: true } });
    const user = await created(core);
    await core.users.delete(user.id);
    expect(core.kit.callNames()).toEqual([
      'subscribers.find',
      'subscribers.tags',
      'tags.tagSubscriber',
      'subscribers.unsubscribe',
      'subscribers.update',
    ]);
  });

  it('answers 404 for an id that is not a Kit subscriber id, without a Kit call', async () => {
    const core = await buildCore();
    await expectScimFailure(core.users.get('not-a-number'), 404);
    await expectScimFailure(core.users.delete('12abc'), 404);
    expect(core.kit.calls).toEqual([]);
  });
});

describe('UserDirectory.list', () => {
  const query = (params: Record<string, unknown>, core: Core) => parseListQuery(params, ['id'], core.users.schema);

  it('pages over Kit cursor pages, counting inactive users and leaving deleted ones out', async () => {
    const core = await buildCore({ pageSize: 2 });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await created(core, `user${i}@example.com`)).id);
    await core.users.patch(ids[1], patch({ op: 'replace', value: { active: false } }));
    await core.users.delete(ids[4]);

    const first = await core.users.list(query({ startIndex: 1, count: 2 }, core), false);
    const second = await core.users.list(query({ startIndex: 3, count: 2 }, core), false);

    expect(first.totalResults).toBe(4);
    expect(second.totalResults).toBe(4);
    expect(first.resources.map((u) => u.id)).toEqual(ids.slice(0, 2));
    expect(second.resources.map((u) => u.id)).toEqual(ids.slice(2, 4));
    expect(first.resources.map((u) => u.active)).toEqual([true, false]);
  });

  it('finds a user by userName with one Kit lookup', async () => {
    const core = await buildCore();
    const user = await created(core);
    const found = await core.users.list(query({ filter: 'userName eq "ADA@example.com"' }, core), false);
    expect(found.resources.map((u) => u.id)).toEqual([user.id]);
    expect(core.kit.callNames()).toEqual(['subscribers.findByEmail']);
  });
});
