import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// RFC 7644 §3.14: weak ETags on Users and Groups (header and meta.version), If-None-Match → 304, and
// If-Match on PUT/PATCH/DELETE refused with 412 before anything is written to Kit.

const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const WEAK = /^W\/"[A-Za-z0-9_-]+"$/;
let n = 0;
const email = () => `etag.${unique()}.${n++}@example.com`;

/** Kit endpoints that change something. */
const writesIn = (byEndpoint: Record<string, number>) => Object.keys(byEndpoint).filter((e) => !e.startsWith('GET'));

describe('ETags on Users', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('every user read and write carries the same weak ETag in the header and meta.version', async () => {
    const address = email();
    const created = await h.post('/scim/v2/Users', oktaUser(address));
    expect(created.status).toBe(201);
    expect(created.headers.etag).toMatch(WEAK);
    expect(created.body.meta.version).toBe(created.headers.etag);

    const got = await h.get(`/scim/v2/Users/${created.body.id}`);
    expect(got.headers.etag).toBe(created.headers.etag);
    expect(got.body.meta.version).toBe(got.headers.etag);
    // However the user is read: without its groups, or in a list.
    expect((await h.get(`/scim/v2/Users/${created.body.id}?excludedAttributes=groups`)).headers.etag).toBe(
      got.headers.etag,
    );
    const filter = encodeURIComponent(`userName eq "${address}"`);
    const [listed] = expectListResponse(await h.get(`/scim/v2/Users?filter=${filter}`), 1);
    expect(listed.meta.version).toBe(got.headers.etag);
  });

  it('answers If-None-Match with 304 while unchanged, and 200 with a new ETag once changed', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(email()));
    const id = created.body.id;
    const etag = created.headers.etag;
    const unchanged = await h.get(`/scim/v2/Users/${id}`).set('If-None-Match', etag);
    expect(unchanged.status).toBe(304);
    expect(unchanged.text ?? '').toBe('');
    expect(unchanged.headers.etag).toBe(etag);
    // The strong form of the same tag, and a list holding it, match too (weak comparison).
    expect((await h.get(`/scim/v2/Users/${id}`).set('If-None-Match', `"x", ${etag.slice(2)}`)).status).toBe(304);

    const patched = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'Countess' }));
    expect(patched.headers.etag).toMatch(WEAK);
    expect(patched.headers.etag).not.toBe(etag);
    const changed = await h.get(`/scim/v2/Users/${id}`).set('If-None-Match', etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).toBe(patched.headers.etag);
  });

  it('refuses a PATCH, PUT or DELETE whose If-Match is stale with 412, before any Kit write', async () => {
    const address = email();
    const created = await h.post('/scim/v2/Users', oktaUser(address));
    const id = created.body.id;
    const stale = created.headers.etag;
    const fresh = (await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'Dr' }))).headers
      .etag;

    const attempts = [
      () => h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })),
      () => h.put(`/scim/v2/Users/${id}`, oktaUser(address, { id, name: { givenName: 'Mallory' } })),
      () => h.del(`/scim/v2/Users/${id}`),
    ];
    for (const attempt of attempts) {
      const { result, byEndpoint } = await h.kitCalls(() => attempt().set('If-Match', stale));
      expectScimError(result, 412);
      expect(result.body.detail).toMatch(/changed since it was read/);
      expect(writesIn(byEndpoint)).toEqual([]);
    }
    const after = await h.get(`/scim/v2/Users/${id}`);
    expect(after.body).toMatchObject({ active: true, name: { givenName: 'Ada' }, title: 'Dr' });

    // The current version, or "*", lets the write through.
    const ok = await h
      .patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'Prof' }))
      .set('If-Match', fresh);
    expect(ok.status).toBe(200);
    expect((await h.del(`/scim/v2/Users/${id}`).set('If-Match', '*')).status).toBe(204);
    expectScimError(await h.del(`/scim/v2/Users/${id}`).set('If-Match', '*'), 404);
  });
});

describe('ETags on Groups', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('cover the membership; If-Match guards member changes; a group read without members has none', async () => {
    const user = await h.post('/scim/v2/Users', oktaUser(email()));
    const created = await h.post('/scim/v2/Groups', { schemas: [CORE_GROUP], displayName: `etag-${n++}` });
    expect(created.headers.etag).toMatch(WEAK);
    const id = created.body.id;
    const got = await h.get(`/scim/v2/Groups/${id}`);
    expect(got.headers.etag).toBe(created.headers.etag);
    expect(got.body.meta.version).toBe(got.headers.etag);
    expect((await h.get(`/scim/v2/Groups/${id}`).set('If-None-Match', got.headers.etag)).status).toBe(304);

    const add = patch({ op: 'add', path: 'members', value: [{ value: user.body.id }] });
    const fresh = got.headers.etag;
    const added = await h.patch(`/scim/v2/Groups/${id}`, add).set('If-Match', fresh);
    expect(added.status).toBe(204);
    const after = await h.get(`/scim/v2/Groups/${id}`);
    expect(after.headers.etag).not.toBe(fresh);

    // The old version no longer matches: the removal is refused and Kit keeps the member.
    const remove = patch({ op: 'remove', path: `members[value eq "${user.body.id}"]` });
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Groups/${id}`, remove).set('If-Match', fresh),
    );
    expectScimError(result, 412);
    expect(writesIn(byEndpoint)).toEqual([]);
    expect((await h.get(`/scim/v2/Groups/${id}`)).body.members.map((m: any) => m.value)).toEqual([user.body.id]);

    const withoutMembers = await h.get(`/scim/v2/Groups/${id}?excludedAttributes=members`);
    expect(withoutMembers.status).toBe(200);
    expect(withoutMembers.headers.etag).toBeUndefined();
    expect(withoutMembers.body.meta.version).toBeUndefined();
  });
});

describe('ServiceProviderConfig', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('says ETags are supported', async () => {
    expect((await h.get('/scim/v2/ServiceProviderConfig')).body.etag).toEqual({ supported: true });
  });
});
