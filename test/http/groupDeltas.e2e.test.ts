import { stampClock } from '../support/clock';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse } from '../support/scim';
import { unique } from '../support/unique';

// Kit tags hold only a name, so a Group's meta.lastModified is the server's stamp (journal/groupStamps.ts). An
// IGA delta read of Users and Groups (`meta.lastModified gt T`) after changes made through SCIM and in Kit
// (tagging, untagging and renaming done there) finds exactly the changed resources.

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const group = (displayName: string, members: number[] = []) => ({
  schemas: [GROUP],
  displayName,
  members: members.map((m) => ({ value: String(m) })),
});

describe('Groups are visible to delta reads', () => {
  let h: Harness;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const at = (ms: number) => new Date(ms).toISOString();
  const run = unique();
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
  });
  afterAll(() => h.close());

  const since = (t: number, extra = '') => encodeURIComponent(`meta.lastModified gt "${at(t)}"${extra}`);
  const usersChangedSince = async (t: number) =>
    expectListResponse(
      await h.get(`/scim/v2/Users?filter=${since(t, ` and userName sw "gd.${run}"`)}&count=100&attributes=id`),
    )
      .map((u) => u.id as string)
      .sort();
  const groupsChangedSince = async (t: number) =>
    expectListResponse(await h.get(`/scim/v2/Groups?filter=${since(t)}&count=100&attributes=id`))
      .map((g) => g.id as string)
      .sort();

  async function createUser(name: string): Promise<string> {
    const res = await h.post('/scim/v2/Users', oktaUser(`gd.${run}.${name}@example.com`));
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function createGroup(name: string, members: string[]): Promise<string> {
    const res = await h.post('/scim/v2/Groups', group(`${name} ${run}`, members.map(Number)));
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it('a create answers its members as a later GET does (with display)', async () => {
    const u = await createUser('display');
    const created = await h.post('/scim/v2/Groups', group(`Display ${run}`, [Number(u)]));
    expect(created.status).toBe(201);
    const got = await h.get(`/scim/v2/Groups/${created.body.id}`);
    expect(created.body.members).toEqual(got.body.members);
    expect(created.body.members[0].display).toBe(`gd.${run}.display@example.com`);
    expect(created.body.meta.version).toBe(got.body.meta.version);
  });

  it('a rename and membership changes, through SCIM and in Kit, move lastModified and the ETag', async () => {
    const [alice, bob, carol, dave, erin] = await Promise.all(
      ['alice', 'bob', 'carol', 'dave', 'erin'].map((n) => createUser(n)),
    );
    const renamed = await createGroup('Renamed', [alice]);
    const patched = await createGroup('Patched', [alice]);
    const put = await createGroup('Put', [bob]);
    const kitTagged = await createGroup('KitTagged', [bob]);
    const kitUntagged = await createGroup('KitUntagged', [carol]);
    const kitRenamed = await createGroup('KitRenamed', [carol]);
    const quiet = await createGroup('Quiet', [dave]);
    const before = (await h.get(`/scim/v2/Groups/${kitTagged}`)).body;

    clock += 60_000;
    const t0 = clock;
    clock += 60_000;
    // Nothing changed since t0: the delta read is empty (and takes its baseline of every membership).
    expect(await groupsChangedSince(t0)).toEqual([]);
    expect(await usersChangedSince(t0)).toEqual([]);

    // Through SCIM.
    const r1 = await h.patch(
      `/scim/v2/Groups/${renamed}`,
      patch({ op: 'replace', value: { displayName: `Renamed2 ${run}` } }),
    );
    expect(r1.status).toBe(204);
    const r2 = await h.patch(
      `/scim/v2/Groups/${patched}`,
      patch({ op: 'add', path: 'members', value: [{ value: bob }] }),
    );
    expect(r2.status).toBe(204);
    const r3 = await h.put(`/scim/v2/Groups/${put}`, { ...group(`Put ${run}`, [Number(carol)]), id: put });
    expect(r3.status).toBe(200);
    expect(r3.body.meta.lastModified).toBe(at(clock));
    const u1 = await h.patch(`/scim/v2/Users/${alice}`, patch({ op: 'replace', value: { active: false } }));
    expect(u1.status).toBe(200);

    // In Kit, behind the server's back.
    const store = h.sandbox.store;
    store.tagSubscriber(Number(kitTagged), Number(erin));
    store.untagSubscriber(Number(kitUntagged), Number(carol));
    store.renameTag(Number(kitRenamed), `KitRenamed2 ${run}`);
    store.setState(Number(dave), 'cancelled');

    clock += 60_000;
    const changed = await groupsChangedSince(t0);
    expect(changed).toEqual([renamed, patched, put, kitTagged, kitUntagged, kitRenamed].sort());
    expect(changed).not.toContain(quiet);
    expect(await usersChangedSince(t0)).toEqual([alice, dave].sort());

    // The stamp is kept: a later GET says the same time, and the version moved with the membership.
    const after = (await h.get(`/scim/v2/Groups/${kitTagged}`)).body;
    expect(after.meta.lastModified).toBe(at(clock));
    expect(after.meta.version).not.toBe(before.meta.version);
    expect((await h.get(`/scim/v2/Groups/${renamed}`)).body.meta.lastModified).toBe(at(t0 + 60_000));
    expect((await h.get(`/scim/v2/Groups/${quiet}`)).body.meta.lastModified).toBe(
      (await h.get(`/scim/v2/Groups/${quiet}`)).body.meta.created,
    );

    // A later delta read from now on sees nothing more.
    const t1 = clock;
    clock += 60_000;
    expect(await groupsChangedSince(t1)).toEqual([]);
  });
});
