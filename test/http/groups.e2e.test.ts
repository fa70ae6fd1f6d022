import { EXPECT } from '../support/backends';
import { BACKENDS, type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const group = (displayName: string, members: Array<number | string> = []) => ({
  schemas: [GROUP],
  displayName,
  members: members.map((m) => ({ value: String(m) })),
});
const filter = (f: string) => `filter=${encodeURIComponent(f)}`;

// Every flow runs over Kit v4 and Kit v3. v3 cannot rename tags: there a rename is 400 mutability and DELETE
// untags every member and leaves the (empty) tag, and the group with it (docs/design/kit-v3.md).
describe.each(BACKENDS)('Groups over Kit %s', (backend) => {
  const kit = EXPECT[backend];
  const renames = backend === 'v4';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(() => h.close());

  function seedUsers(n: number, prefix: string): number[] {
    return h.sandbox.store.seedSubscribers(n, { emailPrefix: prefix, firstNamePrefix: 'U' }).ids;
  }

  const tagged = (tagId: string) => new Set(h.sandbox.store.subscribersOfTag(Number(tagId)));

  describe('Groups: Okta Group Push', () => {
    it('creates, adds, removes, renames and deletes a pushed group', async () => {
      const [a, b, c] = seedUsers(3, `okta-push-${unique()}-`);
      const created = await h.post('/scim/v2/Groups', group('Engineering', [a, b]));
      expect(created.status).toBe(201);
      expect(created.headers.location).toMatch(new RegExp(`/Groups/${created.body.id}$`));
      expect(created.body.displayName).toBe('Engineering');
      const id = created.body.id;
      expect(tagged(id)).toEqual(new Set([a, b]));

      // Okta checks the name is free with a filter before pushing.
      const found = await h.get(`/scim/v2/Groups?${filter('displayName eq "engineering"')}&excludedAttributes=members`);
      expect(expectListResponse(found, 1)[0].id).toBe(id);

      const add = await h.patch(
        `/scim/v2/Groups/${id}`,
        patch({ op: 'add', path: 'members', value: [{ value: String(c) }] }),
      );
      expect(add.status).toBe(204);
      expect(tagged(id)).toEqual(new Set([a, b, c]));

      const remove = await h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'remove', path: `members[value eq "${a}"]` }));
      expect(remove.status).toBe(204);
      expect(tagged(id)).toEqual(new Set([b, c]));

      const rename = await h.kitCalls(() =>
        h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'replace', value: { id, displayName: 'Platform' } })),
      );
      if (!renames) {
        expectScimError(rename.result, 400, 'mutability');
        expect(rename.result.body.detail).toMatch(/cannot rename tags/);
        expect(Object.keys(rename.byEndpoint).filter((e) => !e.startsWith('GET'))).toEqual([]);
      } else expect(rename.result.status).toBe(204);
      const got = await h.get(`/scim/v2/Groups/${id}`);
      expect(got.body.displayName).toBe(renames ? 'Platform' : 'Engineering');
      expect(got.body.members.map((m: any) => m.value).sort()).toEqual([String(b), String(c)].sort());
      expect(got.body.members[0].display).toMatch(/@example\.com$/);

      const del = await h.del(`/scim/v2/Groups/${id}`);
      expect(del.status).toBe(204);
      expect(tagged(id).size).toBe(0);
      if (!renames) {
        // v3: the tag stays (Kit v3 can neither delete nor rename it), emptied, and still holds its name.
        const kept = await h.get(`/scim/v2/Groups/${id}`);
        expect(kept.status).toBe(200);
        expect(kept.body.members ?? []).toEqual([]);
        expectScimError(await h.post('/scim/v2/Groups', group('Engineering')), 409, 'uniqueness');
        return;
      }
      expectScimError(await h.get(`/scim/v2/Groups/${id}`), 404);
      expectScimError(await h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'add', path: 'members', value: [] })), 404);
      expect(tagged(id).size).toBe(0);
      const list = await h.get('/scim/v2/Groups?excludedAttributes=members');
      expect(list.body.Resources.map((g: any) => g.id)).not.toContain(id);
      // The retired tag no longer holds the name.
      const again = await h.post('/scim/v2/Groups', group('Platform'));
      expect(again.status).toBe(201);
      expect(again.body.id).not.toBe(id);
    });

    it('refuses a duplicate displayName with 409 uniqueness', async () => {
      expect((await h.post('/scim/v2/Groups', group('Sales'))).status).toBe(201);
      expectScimError(await h.post('/scim/v2/Groups', group('sales')), 409, 'uniqueness');
      const other = await h.post('/scim/v2/Groups', group('Marketing'));
      const clash = await h.patch(
        `/scim/v2/Groups/${other.body.id}`,
        patch({ op: 'replace', path: 'displayName', value: 'Sales' }),
      );
      // v3 refuses any rename before looking for a clash.
      if (renames) expectScimError(clash, 409, 'uniqueness');
      else expectScimError(clash, 400, 'mutability');
    });
  });

  describe('Groups: Entra ID scenarios', () => {
    it('creates with externalId, adds and removes with value arrays, replaces the name, removes all members', async () => {
      const [a, b, c] = seedUsers(3, `entra-grp-${unique()}-`);
      const created = await h.post('/scim/v2/Groups', {
        schemas: [GROUP],
        externalId: '6b0f-entra-group',
        displayName: 'Finance',
        members: [],
      });
      expect(created.status).toBe(201);
      const id = created.body.id;
      const byName = await h.get(`/scim/v2/Groups?${filter('displayName eq "Finance"')}`);
      expect(expectListResponse(byName, 1)[0].id).toBe(id);

      expect(
        (
          await h.patch(
            `/scim/v2/Groups/${id}`,
            patch({
              op: 'Add',
              path: 'members',
              value: [{ value: String(a) }, { value: String(b) }, { value: String(c) }],
            }),
          )
        ).status,
      ).toBe(204);
      expect(tagged(id)).toEqual(new Set([a, b, c]));
      expect(
        (
          await h.patch(
            `/scim/v2/Groups/${id}`,
            patch({ op: 'Remove', path: 'members', value: [{ value: String(b) }] }),
          )
        ).status,
      ).toBe(204);
      expect(tagged(id)).toEqual(new Set([a, c]));
      const renamed = await h.patch(
        `/scim/v2/Groups/${id}`,
        patch({ op: 'Replace', path: 'displayName', value: 'Treasury' }),
      );
      expect(renamed.status).toBe(renames ? 204 : 400);
      expect((await h.get(`/scim/v2/Groups/${id}?excludedAttributes=members`)).body.displayName).toBe(
        renames ? 'Treasury' : 'Finance',
      );
      expect((await h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'Remove', path: 'members' }))).status).toBe(204);
      expect(tagged(id).size).toBe(0);
    });

    it('replaces the membership with PUT', async () => {
      const [a, b, c] = seedUsers(3, `entra-put-${unique()}-`);
      const created = await h.post('/scim/v2/Groups', group('Legal', [a, b]));
      if (!renames) {
        const refused = await h.put(`/scim/v2/Groups/${created.body.id}`, group('Legal & Risk', [b, c]));
        expectScimError(refused, 400, 'mutability');
        expect(tagged(created.body.id)).toEqual(new Set([a, b]));
      }
      const name = renames ? 'Legal & Risk' : 'Legal';
      const put = await h.put(`/scim/v2/Groups/${created.body.id}`, group(name, [b, c]));
      expect(put.status).toBe(200);
      expect(put.body.displayName).toBe(name);
      expect(put.body.members.map((m: any) => Number(m.value)).sort()).toEqual([b, c].sort());
      expect(tagged(created.body.id)).toEqual(new Set([b, c]));
    });
  });

  describe('Groups: members that are not users', () => {
    it('skips unknown, deleted and malformed members without failing or half-applying the rest', async () => {
      const [a, b] = seedUsers(2, `skip-${unique()}-`);
      const doomed = await h.post('/scim/v2/Users', oktaUser(`doomed.${unique()}@example.com`));
      await h.del(`/scim/v2/Users/${doomed.body.id}`);
      const res = await h.post('/scim/v2/Groups', group('Skips', [a, 999999999, doomed.body.id, 'not-an-id', b]));
      expect(res.status).toBe(201);
      expect(res.body.members.map((m: any) => Number(m.value)).sort()).toEqual([a, b].sort());
      expect(tagged(res.body.id)).toEqual(new Set([a, b]));
    });
  });

  describe('Groups: Kit calls', () => {
    it('pushes members with bulk calls on v4 (250 with 3, 1,000 with 10); on v3 a read and a subscribe per member', async () => {
      for (const n of backend === 'v4' ? [250, 1000] : [120]) {
        const bulk = kit.taggingCalls(n);
        const ids = seedUsers(n, `push${n}-${unique()}-`);
        const { result, byEndpoint, total } = await h.kitCalls(() =>
          h.post('/scim/v2/Groups', group(`Push ${n}`, ids)),
        );
        expect(result.status).toBe(201);
        expect(byEndpoint[kit.tagging]).toBe(bulk);
        expect(byEndpoint[kit.createTag]).toBe(1);
        // v3: the read that guards each subscribe (an unsubscribed member is never re-subscribed).
        const guards = backend === 'v3' ? n : 0;
        expect(byEndpoint['GET /v3/subscribers/:id'] ?? 0).toBe(guards);
        expect(total).toBeLessThanOrEqual(bulk + guards + 4);
        expect(tagged(result.body.id).size).toBe(n);

        const read = await h.kitCalls(() => h.get(`/scim/v2/Groups/${result.body.id}`));
        expect(read.result.body.members).toHaveLength(n);
        expect(read.total).toBeLessThanOrEqual(1 + Math.ceil(n / kit.pageSize));
      }
    });

    it('adds k members with ceil(k/100) bulk calls and removes k with at most k calls, never reading the membership', async () => {
      const ids = seedUsers(130, `patchcount-${unique()}-`);
      const created = await h.post('/scim/v2/Groups', group('Counted', ids.slice(0, 5)));
      const add = await h.kitCalls(() =>
        h.patch(
          `/scim/v2/Groups/${created.body.id}`,
          patch({ op: 'add', path: 'members', value: ids.slice(5).map((v) => ({ value: String(v) })) }),
        ),
      );
      expect(add.result.status).toBe(204);
      expect(add.byEndpoint[kit.tagging]).toBe(kit.taggingCalls(125));
      expect(add.byEndpoint[kit.tagMembers]).toBeUndefined();
      const remove = await h.kitCalls(() =>
        h.patch(
          `/scim/v2/Groups/${created.body.id}`,
          patch(...ids.slice(0, 7).map((v) => ({ op: 'remove', path: `members[value eq "${v}"]` }))),
        ),
      );
      expect(remove.result.status).toBe(204);
      expect(remove.byEndpoint[kit.untag]).toBe(7);
      expect(remove.byEndpoint[kit.tagMembers]).toBeUndefined();
      expect(remove.total).toBeLessThanOrEqual(7 + 1);
      expect(tagged(created.body.id).size).toBe(123);
    });

    it('keeps every member when 20 PATCHes add different members to one group in parallel', async () => {
      const ids = seedUsers(20, `parallel-${unique()}-`);
      const created = await h.post('/scim/v2/Groups', group('Parallel'));
      const results = await Promise.all(
        ids.map((m) =>
          h.patch(
            `/scim/v2/Groups/${created.body.id}`,
            patch({ op: 'add', path: 'members', value: [{ value: String(m) }] }),
          ),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(ids.map(() => 204));
      expect(tagged(created.body.id)).toEqual(new Set(ids));
      const got = await h.get(`/scim/v2/Groups/${created.body.id}`);
      expect(got.body.members).toHaveLength(20);
    });
  });

  describe('User.groups', () => {
    it('is on every User read, and a list costs no Kit call per user', async () => {
      const ids = seedUsers(30, `ugroups-${unique()}-`);
      const g1 = await h.post('/scim/v2/Groups', group('Readers', ids.slice(0, 10)));
      const g2 = await h.post('/scim/v2/Groups', group('Writers', ids.slice(5, 15)));
      const one = await h.get(`/scim/v2/Users/${ids[7]}`);
      expect(one.body.groups.map((g: any) => g.display).sort()).toEqual(['Readers', 'Writers']);
      expect(one.body.groups.every((g: any) => [g1.body.id, g2.body.id].includes(g.value))).toBe(true);

      const list = await h.kitCalls(() => h.get(`/scim/v2/Users?${filter('emails.value co "ugroups"')}&count=1000`));
      expect(list.byEndpoint[kit.tagsOfSubscriber]).toBeUndefined();
      const byId = new Map(list.result.body.Resources.map((u: any) => [Number(u.id), u]));
      expect((byId.get(ids[0]) as any).groups.map((g: any) => g.display)).toEqual(['Readers']);
      expect((byId.get(ids[12]) as any).groups.map((g: any) => g.display)).toEqual(['Writers']);
      expect((byId.get(ids[20]) as any).groups).toBeUndefined();

      const filtered = await h.get(`/scim/v2/Users?${filter(`groups.value eq "${g2.body.id}"`)}&count=1000`);
      const members = expectListResponse(filtered, 10).map((u: any) => Number(u.id));
      expect(members.sort()).toEqual(ids.slice(5, 15).sort());
    });
  });

  describe('GROUP_TAG_PREFIX', () => {
    it('shows only prefixed tags, without the prefix, and creates tags with it', async () => {
      const p = await startHarness({ backend, env: { GROUP_TAG_PREFIX: 'idp:' } });
      try {
        p.sandbox.store.createTag('newsletter');
        const hidden = p.sandbox.store.createTag('idp:Admins');
        const list = await p.get('/scim/v2/Groups');
        expect(expectListResponse(list, 1)[0]).toMatchObject({ id: String(hidden.id), displayName: 'Admins' });
        const created = await p.post('/scim/v2/Groups', group('Support'));
        expect(created.body.displayName).toBe('Support');
        expect(p.sandbox.store.findTagByName('idp:Support')?.id).toBe(Number(created.body.id));
        const newsletter = p.sandbox.store.findTagByName('newsletter')!;
        expectScimError(await p.get(`/scim/v2/Groups/${newsletter.id}`), 404);
      } finally {
        await p.close();
      }
    });
  });
});
