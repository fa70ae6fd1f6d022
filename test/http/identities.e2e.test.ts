import { BACKENDS, type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const group = (displayName: string) => ({ schemas: [GROUP], displayName, members: [] });
const FULLWIDTH_S = '\uff53';
const ZWSP = '\u200b';

/** The Kit calls that change something: anything but a read. */
const writes = (byEndpoint: Record<string, number>) => Object.keys(byEndpoint).filter((e) => !e.startsWith('GET'));

// Identities that differ from an existing or reserved one only by invisible characters, Unicode compatibility
// forms or letter case (src/scim/identity.ts) are refused before Kit is written to.
describe.each(BACKENDS)('Look-alike identities over Kit %s', (backend) => {
  const renames = backend === 'v4';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(() => h.close());

  describe('Group names', () => {
    it.each([
      ['a zero-width space in front', `${ZWSP}scim:deleted-users`],
      ['a fullwidth s', `${FULLWIDTH_S}cim:deleted-users`],
      ['capitals and a word joiner', 'SCIM\u2060:retired:1:x'],
    ])('refuses a reserved name written with %s: 400 invalidValue, no Kit call', async (_why, displayName) => {
      const tagsBefore = h.sandbox.store.listTags().length;
      const { result, total } = await h.kitCalls(() => h.post('/scim/v2/Groups', group(displayName)));
      expectScimError(result, 400, 'invalidValue');
      expect(result.body.detail).toMatch(/is reserved: it looks like a reserved name once normalized/);
      expect(result.body.detail).toContain('"scim:');
      expect(total).toBe(0);
      expect(h.sandbox.store.listTags()).toHaveLength(tagsBefore);
    });

    it('still refuses the reserved name itself, with the plain detail', async () => {
      const res = await h.post('/scim/v2/Groups', group('scim:deleted-users'));
      expectScimError(res, 400, 'invalidValue');
      expect(res.body.detail).toMatch(/^"scim:deleted-users" is reserved: tag names starting with "scim:"/);
    });

    it('refuses a reserved look-alike as the new name of a PATCH or PUT: 400 invalidValue, no Kit call', async () => {
      const created = await h.post('/scim/v2/Groups', group(`Ops-${unique()}`));
      expect(created.status).toBe(201);
      const id = created.body.id;
      const patched = await h.kitCalls(() =>
        h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'replace', path: 'displayName', value: `${ZWSP}scim:users` })),
      );
      expectScimError(patched.result, 400, 'invalidValue');
      expect(patched.total).toBe(0);
      const put = await h.kitCalls(() =>
        h.put(`/scim/v2/Groups/${id}`, { ...group(`${FULLWIDTH_S}cim:deleted-users`), id }),
      );
      expectScimError(put.result, 400, 'invalidValue');
      expect(writes(put.byEndpoint)).toEqual([]);
      expect((await h.get(`/scim/v2/Groups/${id}`)).body.displayName).toBe(created.body.displayName);
    });

    it.each([
      ['a fullwidth letter', (name: string) => `${FULLWIDTH_S}${name.slice(1)}`],
      ['a trailing zero-width space', (name: string) => `${name}${ZWSP}`],
      ['a soft hyphen inside', (name: string) => `${name.slice(0, 2)}\u00ad${name.slice(2)}`],
    ])(
      'refuses a new group whose name differs from an existing one by %s: 409 uniqueness, no tag made',
      async (_why, lookalike) => {
        const name = `Sales-${unique()}`;
        const first = await h.post('/scim/v2/Groups', group(name));
        expect(first.status).toBe(201);
        const { result, byEndpoint } = await h.kitCalls(() => h.post('/scim/v2/Groups', group(lookalike(name))));
        expectScimError(result, 409, 'uniqueness');
        expect(result.body.detail).toContain(`(id ${first.body.id}) only by invisible characters`);
        expect(writes(byEndpoint)).toEqual([]);
        const found = expectListResponse(
          await h.get(`/scim/v2/Groups?filter=${encodeURIComponent(`displayName sw "Sales-"`)}&count=1000`),
        );
        expect(found.filter((g) => g.displayName.includes(name.slice(5)))).toHaveLength(1);
      },
    );

    it('refuses renaming a group onto a look-alike of another: 409 uniqueness on v4, without a Kit write', async () => {
      const name = `Sales-${unique()}`;
      expect((await h.post('/scim/v2/Groups', group(name))).status).toBe(201);
      const other = await h.post('/scim/v2/Groups', group(`Other-${unique()}`));
      const { result, byEndpoint } = await h.kitCalls(() =>
        h.patch(
          `/scim/v2/Groups/${other.body.id}`,
          patch({ op: 'replace', path: 'displayName', value: `${name.toUpperCase()}\u2060` }),
        ),
      );
      if (renames) {
        expectScimError(result, 409, 'uniqueness');
        expect(result.body.detail).toMatch(/only by invisible characters, Unicode compatibility forms/);
      } else expectScimError(result, 400, 'mutability');
      expect(writes(byEndpoint)).toEqual([]);
    });
  });

  describe('Email addresses', () => {
    it('refuses an address that differs from an existing user only by a zero-width space: 400, no Kit call', async () => {
      const email = `alice-${unique()}@example.com`;
      expect((await h.post('/scim/v2/Users', oktaUser(email))).status).toBe(201);
      const subscribersBefore = h.sandbox.store.counts();
      const { result, total } = await h.kitCalls(() => h.post('/scim/v2/Users', oktaUser(`${email}${ZWSP}`)));
      expectScimError(result, 400, 'invalidValue');
      expect(result.body.detail).toMatch(/invisible characters \(U\+200B\)/);
      expect(result.body.detail).toContain(`(${JSON.stringify(email)})`);
      expect(total).toBe(0);
      expect(h.sandbox.store.counts()).toEqual(subscribersBefore);
    });

    it('refuses a fullwidth address on create, and in emails when userName is no email', async () => {
      const email = `bob-${unique()}@example.com`;
      const fullwidth = await h.kitCalls(() => h.post('/scim/v2/Users', oktaUser(`\uff42${email.slice(1)}`)));
      expectScimError(fullwidth.result, 400, 'invalidValue');
      expect(fullwidth.result.body.detail).toMatch(/compatibility characters/);
      expect(fullwidth.total).toBe(0);
      const inEmails = await h.post(
        '/scim/v2/Users',
        oktaUser('bob-not-an-email', {
          emails: [{ value: `${email.slice(0, 3)}\u00ad${email.slice(3)}`, primary: true }],
        }),
      );
      expectScimError(inEmails, 400, 'invalidValue');
      expect(inEmails.body.detail).toMatch(/U\+00AD/);
    });

    it('refuses a PUT or PATCH that moves a user to an address with invisible characters, writing nothing', async () => {
      const email = `carol-${unique()}@example.com`;
      const created = await h.post('/scim/v2/Users', oktaUser(email));
      expect(created.status).toBe(201);
      const id = created.body.id;
      const moved = `carol2-${unique()}@example.com\u200d`;
      const put = await h.kitCalls(() => h.put(`/scim/v2/Users/${id}`, { ...oktaUser(moved), id }));
      expectScimError(put.result, 400, 'invalidValue');
      expect(writes(put.byEndpoint)).toEqual([]);
      const patched = await h.kitCalls(() =>
        h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'userName', value: moved })),
      );
      expectScimError(patched.result, 400, 'invalidValue');
      expect(patched.result.body.detail).toMatch(/U\+200D/);
      expect(writes(patched.byEndpoint)).toEqual([]);
      expect((await h.get(`/scim/v2/Users/${id}`)).body.userName).toBe(email);
    });

    it('keeps the address a subscriber made in Kit already holds, whatever it contains', async () => {
      const prefix = `kit-made${ZWSP}-${unique()}-`;
      const [id] = h.sandbox.store.seedSubscribers(1, { emailPrefix: prefix, firstNamePrefix: 'K' }).ids;
      const held = (await h.get(`/scim/v2/Users/${id}`)).body.userName as string;
      expect(held).toContain(ZWSP);
      const res = await h.patch(
        `/scim/v2/Users/${id}`,
        patch(
          { op: 'replace', path: 'name.givenName', value: 'Kept' },
          { op: 'replace', path: 'userName', value: held },
        ),
      );
      expect(res.status).toBe(200);
      expect(res.body.userName).toBe(held);
    });

    it('answers a userName filter with a look-alike address by the subscriber holding exactly it, not its plain twin', async () => {
      const email = `dave-${unique()}@example.com`;
      expect((await h.post('/scim/v2/Users', oktaUser(email))).status).toBe(201);
      const byFilter = (value: string) =>
        h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${value}"`)}`);
      expectListResponse(await byFilter(`${email}${ZWSP}`), 0);
      expect(expectListResponse(await byFilter(email.toUpperCase()), 1)[0].userName).toBe(email);
      const [id] = h.sandbox.store.seedSubscribers(1, { emailPrefix: `erin${ZWSP}-${unique()}-` }).ids;
      const held = (await h.get(`/scim/v2/Users/${id}`)).body.userName as string;
      expect(expectListResponse(await byFilter(held), 1)[0].id).toBe(String(id));
      expectListResponse(await byFilter(held.replace(ZWSP, '')), 0);
    });
  });
});
