import { type Harness, patch, startHarness, USER_SCHEMA } from '../support/harness';
import { expectListResponse } from '../support/scim';
import { unique } from '../support/unique';

// Lookups by externalId (and any attribute Kit cannot filter on) over the lookup mirror, the
// default without Kit webhooks (MIRROR=lookups). Every count below is the sandbox's own.

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const N = 2500;

const filtered = (h: Harness, filter: string) =>
  h.get(`/scim/v2/Users?filter=${encodeURIComponent(filter)}&excludedAttributes=groups`);

describe('lookups by externalId and other attributes Kit cannot filter (lookup mirror)', () => {
  let h: Harness;
  const run = unique();
  const user = (name: string, externalId: string) => ({
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId,
    userName: `${name}.${run}@contoso.example`,
    emails: [{ primary: true, type: 'work', value: `${name}.${run}@contoso.example` }],
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    displayName: `Ada ${name} ${run}`,
    [ENTERPRISE]: { department: `dept-${run}` },
  });

  beforeAll(async () => {
    h = await startHarness();
    h.sandbox.store.seedSubscribers(N, { emailPrefix: 'walked-' });
  });
  afterAll(() => h.close());

  it('is the default without webhooks, and walks nothing at start-up', async () => {
    expect(h.config.changes).toMatchObject({ mirror: false, lookupMirror: true });
    const mirror = h.service.scim().tracking.mirror!;
    // Single reads keep asking Kit: the lookup mirror is only for filters.
    expect(await mirror.complete()).toBe(false);
    // Never walked: the first filter that needs it walks it.
    expect((await h.service.scim().tracking.mirrorStore!.status()).completeAt).toBeUndefined();
    const byEmail = await h.kitCalls(() => filtered(h, `userName eq "walked-1@example.com"`));
    expect(byEmail.byEndpoint).toEqual({ 'GET /v4/subscribers': 1 });
  });

  it('100 externalId lookups with distinct values cost one walk in all', async () => {
    const created = await h.post('/scim/v2/Users', user('first', `oid-first-${run}`));
    expect(created.status).toBe(201);
    const { result, byEndpoint } = await h.kitCalls(async () => {
      const answers = [];
      for (let i = 0; i < 100; i++) {
        const value = i === 0 ? `oid-first-${run}` : `oid-missing-${i}-${run}`;
        answers.push(await filtered(h, `externalId eq "${value}"`));
      }
      return answers;
    });
    expect(expectListResponse(result[0], 1)[0].id).toBe(created.body.id);
    for (const r of result.slice(1)) expectListResponse(r, 0);
    // One walk of the account: ceil((N + 1) / 1000) pages of 1,000, and nothing else.
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': Math.ceil((N + 1) / 1000) });
  });

  it('displayName, enterprise attributes, sw and non-email userName lookups right after cost 0 Kit calls', async () => {
    const { result, total } = await h.kitCalls(async () => [
      await filtered(h, `displayName eq "Ada first ${run}"`),
      await filtered(h, `displayName eq "Nobody ${run}"`),
      await filtered(h, `${ENTERPRISE}:department eq "dept-${run}"`),
      await filtered(h, `externalId sw "oid-first-${run}"`),
      // A userName that is not an email: Kit cannot look it up, the mirror's index can.
      await filtered(h, `userName eq "nobody-${run}"`),
    ]);
    expect(expectListResponse(result[0], 1)[0].userName).toBe(`first.${run}@contoso.example`);
    expectListResponse(result[1], 0);
    expect(expectListResponse(result[2], 1)[0].externalId).toBe(`oid-first-${run}`);
    expectListResponse(result[3], 1);
    expectListResponse(result[4], 0);
    expect(total).toBe(0);
  });

  it('groups.value lookups right after cost 0 Kit calls (memberships from the index, rows from the mirror)', async () => {
    const member = expectListResponse(await filtered(h, `externalId eq "oid-first-${run}"`), 1)[0];
    const group = await h.post('/scim/v2/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `Lookups ${run}`,
      members: [{ value: member.id }],
    });
    expect(group.status).toBe(201);
    const { result, byEndpoint } = await h.kitCalls(async () => [
      await filtered(h, `groups.value eq "${group.body.id}"`),
      await filtered(h, `groups.value eq "${group.body.id}" and externalId eq "oid-first-${run}"`),
    ]);
    expect(expectListResponse(result[0], 1)[0].id).toBe(member.id);
    expect(expectListResponse(result[1], 1)[0].id).toBe(member.id);
    // The group's creation keeps the membership index current, and the subscriber pages come from the mirror.
    expect(byEndpoint).toEqual({});
  });

  it('a user created, renamed or deleted through the server is found (or not) by the next lookup at once', async () => {
    const created = await h.post('/scim/v2/Users', user('second', `oid-second-${run}`));
    expect(created.status).toBe(201);
    const found = await h.kitCalls(() => filtered(h, `externalId eq "oid-second-${run}"`));
    expect(expectListResponse(found.result, 1)[0].id).toBe(created.body.id);
    expect(found.total).toBe(0);

    const renamed = await h.patch(
      `/scim/v2/Users/${created.body.id}`,
      patch({ op: 'replace', path: 'externalId', value: `oid-renamed-${run}` }),
    );
    expect(renamed.status).toBe(200);
    const after = await h.kitCalls(async () => [
      await filtered(h, `externalId eq "oid-second-${run}"`),
      await filtered(h, `externalId eq "oid-renamed-${run}"`),
    ]);
    expectListResponse(after.result[0], 0);
    expect(expectListResponse(after.result[1], 1)[0].id).toBe(created.body.id);
    expect(after.total).toBe(0);

    expect((await h.del(`/scim/v2/Users/${created.body.id}`)).status).toBe(204);
    const gone = await h.kitCalls(async () => [
      await filtered(h, `externalId eq "oid-renamed-${run}"`),
      await filtered(h, `displayName eq "Ada second ${run}"`),
    ]);
    expectListResponse(gone.result[0], 0);
    expectListResponse(gone.result[1], 0);
    expect(gone.total).toBe(0);
  });

  it('GET /Users/{id} still reads Kit (the lookup mirror answers filters only)', async () => {
    const created = await h.post('/scim/v2/Users', user('third', `oid-third-${run}`));
    const { byEndpoint } = await h.kitCalls(() => h.get(`/scim/v2/Users/${created.body.id}?excludedAttributes=groups`));
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers/:id': 1 });
  });
});
