import path from 'node:path';
import { EXPECT } from '../support/backends';
import { BACKENDS, type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectListResponse, expectScimError, scimFixture } from '../support/scim';
import { auditedHarness } from '../support/auditTrail';
import { unique } from '../support/unique';

const ENTRA_RENAME = scimFixture('entra', 'replace-work-email.json');
const OKTA_PUT = scimFixture('okta', 'put-new-email.json');
const IMMUTABLE_MAPPING = path.join(__dirname, '../fixtures/mapping/immutable-email.yaml');
const byUserName = (email: string) => `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`;
const byEmail = (email: string) => `/scim/v2/Users?filter=${encodeURIComponent(`emails.value eq "${email}"`)}`;

// A write that names the address changes it in Kit, or is refused: never a 200 that leaves Kit as it was.
describe.each(BACKENDS)('email changes (Kit %s)', (backend) => {
  const kit = EXPECT[backend];
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(() => h.close());

  const create = async (email = `ada.${unique()}@contoso.example`) => {
    const res = await h.post('/scim/v2/Users', oktaUser(email));
    expect(res.status).toBe(201);
    return { id: res.body.id as string, email, created: res.body };
  };
  const held = (id: string) => h.sandbox.store.getSubscriber(Number(id))!.email_address;

  it('applies Entra’s emails[type eq "work"].value replace in Kit, and the old address finds nobody', async () => {
    const { id, email: old } = await create();
    // The stamp is to the millisecond: a write in the same one could not show that it moved.
    await new Promise((r) => setTimeout(r, 5));
    const before = await h.get(`/scim/v2/Users/${id}`);
    const { result: res, byEndpoint } = await h.kitCalls(() => h.patch(`/scim/v2/Users/${id}`, ENTRA_RENAME));
    expect(res.status).toBe(200);
    expect(held(id)).toBe('alicia@contoso.com');
    expect(res.body.emails).toEqual([{ value: 'alicia@contoso.com', type: 'work', primary: true }]);
    // userName read as the address, so it follows it rather than pinning the old one.
    expect(res.body.userName).toBe('alicia@contoso.com');
    expect(res.body.meta.lastModified).not.toBe(before.body.meta.lastModified);
    expect(res.headers.etag).not.toBe(before.headers.etag);
    expect(byEndpoint[kit.update]).toBe(1);
    // The change notice (security events) names what moved: the address, and the userName that reads as it.
    const changes = await h.service.scim().tracking.journal.read(0, 1000);
    const mine = changes.filter((c) => c.subscriberId === Number(id) && c.kind === 'updated');
    expect(mine.map((c) => c.attributes)).toEqual([['emails', 'userName']]);

    expect(expectListResponse(await h.get(byUserName(old)), 0)).toEqual([]);
    expect(expectListResponse(await h.get(byEmail(old)), 0)).toEqual([]);
    expect(expectListResponse(await h.get(byUserName('alicia@contoso.com')), 1)[0].id).toBe(id);

    // The old address is free: a create with it makes a new subscriber, not the renamed one again.
    const again = await h.post('/scim/v2/Users', oktaUser(old));
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
    expect(held(id)).toBe('alicia@contoso.com');
  });

  it('creates a new subscriber for the old address right after a rename, with nothing read in between', async () => {
    const { id, email: old } = await create();
    const next = `straight.${unique()}@contoso.example`;
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: next }),
    );
    expect(res.status).toBe(200);
    // The lookup snapshot remembered the subscriber under the old address when the PATCH read it.
    const again = await h.post('/scim/v2/Users', oktaUser(old));
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
    expect(held(id)).toBe(next);
  });

  it('applies a replace of emails with another address', async () => {
    const { id } = await create();
    const next = `grace.${unique()}@contoso.example`;
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch({ op: 'replace', path: 'emails', value: [{ value: next, type: 'work', primary: true }] }),
    );
    expect(res.status).toBe(200);
    expect(held(id)).toBe(next);
    expect(res.body.userName).toBe(next);
  });

  it('applies an add of a new primary email', async () => {
    const { id } = await create();
    const next = `new.primary.${unique()}@contoso.example`;
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch({ op: 'add', path: 'emails', value: [{ value: next, type: 'work', primary: true }] }),
    );
    expect(res.status).toBe(200);
    expect(held(id)).toBe(next);
  });

  it('applies a PATCH without a path that carries emails', async () => {
    const { id } = await create();
    const next = `pathless.${unique()}@contoso.example`;
    const res = await h.patch(
      `/scim/v2/Users/${id}`,
      patch({ op: 'replace', value: { emails: [{ value: next, type: 'work', primary: true }] } }),
    );
    expect(res.status).toBe(200);
    expect(held(id)).toBe(next);
  });

  it('applies a userName change where userName is the address', async () => {
    const { id } = await create();
    const next = `renamed.${unique()}@contoso.example`;
    const res = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'userName', value: next }));
    expect(res.status).toBe(200);
    expect(held(id)).toBe(next);
    expect(res.body.emails[0].value).toBe(next);
  });

  it('keeps the address when userName is a name of its own', async () => {
    const email = `own.${unique()}@contoso.example`;
    const made = await h.post('/scim/v2/Users', { ...oktaUser(email), userName: 'ahopper' });
    expect(made.status).toBe(201);
    const res = await h.patch(
      `/scim/v2/Users/${made.body.id}`,
      patch({ op: 'replace', path: 'userName', value: 'amazing.grace' }),
    );
    expect(res.status).toBe(200);
    expect(res.body.userName).toBe('amazing.grace');
    expect(held(made.body.id)).toBe(email);
  });

  it('applies Okta’s PUT with a new email', async () => {
    const { id, email: old } = await create();
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.put(`/scim/v2/Users/${id}`, {
        ...OKTA_PUT,
        userName: `put.${old}`,
        emails: [{ ...first(OKTA_PUT), value: `put.${old}` }],
      }),
    );
    expect(res.status).toBe(200);
    expect(held(id)).toBe(`put.${old}`);
    expect(res.body).toMatchObject({ userName: `put.${old}`, displayName: 'Alicia Keys' });
    expect(byEndpoint[kit.update]).toBe(1);
  });

  it('refuses an address another user holds with 409 uniqueness, and Kit keeps both', async () => {
    const a = await create();
    const b = await create();
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Users/${b.id}`, patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: a.email })),
    );
    expectScimError(res, 409, 'uniqueness');
    expect(res.body.detail).toContain(a.email);
    expect(res.body.detail).toContain(`id ${a.id}`);
    expect(byEndpoint[kit.update]).toBeUndefined();
    expect(held(a.id)).toBe(a.email);
    expect(held(b.id)).toBe(b.email);
  });

  it('answers Kit’s own "already been taken" (an address taken after the lookup) with 409 uniqueness', async () => {
    const { id, email } = await create();
    const next = `raced.${unique()}@contoso.example`;
    // Kit's PUT is held back long enough for another subscriber to take the address once it was looked up.
    h.sandbox.setFaults({ endpoints: [kit.update], latencyMs: 1500 });
    try {
      h.sandbox.resetCalls();
      const pending = h.patch(
        `/scim/v2/Users/${id}`,
        patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: next }),
      );
      const answered = pending.then((r) => r);
      await eventually(() => (h.sandbox.calls().byEndpoint[kit.lookup] ?? 0) >= 1, 300, 10);
      h.sandbox.store.addSubscriber({ email_address: next });
      const res = await answered;
      expectScimError(res, 409, 'uniqueness');
      expect(res.body.detail).toMatch(/already been taken/);
    } finally {
      h.sandbox.resetFaults();
    }
    expect(held(id)).toBe(email);
  });

  it('answers a PATCH naming the address Kit holds without a write, a lastModified move or an ETag change', async () => {
    const { id, email } = await create();
    const before = await h.get(`/scim/v2/Users/${id}`);
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(
        `/scim/v2/Users/${id}`,
        patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: email.toUpperCase() }),
      ),
    );
    expect(res.status).toBe(200);
    expect(byEndpoint[kit.update]).toBeUndefined();
    expect(res.body.meta.lastModified).toBe(before.body.meta.lastModified);
    expect(res.headers.etag).toBe(before.headers.etag);
    expect(held(id)).toBe(email);
  });

  it('tells in /Schemas that only emails.value is written', async () => {
    const res = await h.get('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    expect(res.status).toBe(200);
    const emails = res.body.attributes.find((a: { name: string }) => a.name === 'emails');
    const mutability = Object.fromEntries(
      emails.subAttributes.map((s: { name: string; mutability: string }) => [s.name, s.mutability]),
    );
    expect(mutability).toEqual({ value: 'readWrite', display: 'readOnly', type: 'readOnly', primary: 'readOnly' });
  });
});

const first = (user: Record<string, unknown>) => (user.emails as Array<Record<string, unknown>>)[0];

describe('a mapping that holds the address fixed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_MAPPING_FILE: IMMUTABLE_MAPPING } });
  });
  afterAll(() => h.close());

  it('refuses an address change with 400 mutability naming why, before any Kit write', async () => {
    const email = `fixed.${unique()}@contoso.example`;
    const made = await h.post('/scim/v2/Users', oktaUser(email));
    expect(made.status).toBe(201);
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(
        `/scim/v2/Users/${made.body.id}`,
        patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: `x.${email}` }),
      ),
    );
    expectScimError(res, 400, 'mutability');
    expect(res.body.detail).toMatch(/immutable/);
    expect(byEndpoint['PUT /v4/subscribers/:id']).toBeUndefined();
    const put = await h.put(`/scim/v2/Users/${made.body.id}`, oktaUser(`y.${email}`));
    expectScimError(put, 400, 'mutability');
    expect(h.sandbox.store.getSubscriber(Number(made.body.id))!.email_address).toBe(email);
  });

  it('still applies writes that leave the address as it is', async () => {
    const email = `fixed2.${unique()}@contoso.example`;
    const made = await h.post('/scim/v2/Users', oktaUser(email));
    const res = await h.patch(
      `/scim/v2/Users/${made.body.id}`,
      patch({ op: 'replace', path: 'displayName', value: 'Ada K.' }),
    );
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe('Ada K.');
  });

  it('says in /Schemas that emails.value is immutable', async () => {
    const res = await h.get('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    const emails = res.body.attributes.find((a: { name: string }) => a.name === 'emails');
    expect(emails.subAttributes.find((s: { name: string }) => s.name === 'value').mutability).toBe('immutable');
  });
});

describe('the audit record of an email write', () => {
  const audited = auditedHarness();

  it('says "no change" for a write Kit already held, and nothing of the kind for one it made', async () => {
    const h = audited.harness();
    const email = `audited.${unique()}@contoso.example`;
    const made = await h.post('/scim/v2/Users', oktaUser(email));
    const same = patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: email });
    const next = patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: `moved.${email}` });
    expect((await h.patch(`/scim/v2/Users/${made.body.id}`, same)).status).toBe(200);
    expect((await h.patch(`/scim/v2/Users/${made.body.id}`, next)).status).toBe(200);
    await h.service.close();
    const patches = audited.records().filter((r) => r.operation === 'patch');
    expect(patches).toHaveLength(2);
    expect(patches[0]).toMatchObject({ outcome: 'success', detail: expect.stringMatching(/^no change/) });
    expect(patches[0].kitCalls.map((c: { endpoint: string }) => c.endpoint)).not.toContain('PUT /v4/subscribers/:id');
    expect(patches[1].detail).toBeUndefined();
    expect(patches[1].kitCalls.map((c: { endpoint: string }) => c.endpoint)).toContain('PUT /v4/subscribers/:id');
  });
});

describe('email changes with the subscriber mirror', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { MIRROR: 'on' } });
    await eventually(() => h.service.scim().tracking.mirror!.complete());
  });
  afterAll(() => h.close());

  it('costs one Kit call (the update), and the mirror finds the user by the new address only', async () => {
    const old = `mirrored.${unique()}@contoso.example`;
    const made = await h.post('/scim/v2/Users', oktaUser(old));
    expect(made.status).toBe(201);
    const next = `moved.${old}`;
    const { result: res, byEndpoint } = await h.kitCalls(() =>
      h.patch(
        `/scim/v2/Users/${made.body.id}`,
        patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: next }),
      ),
    );
    expect(res.status).toBe(200);
    // The subscriber, its groups and whether another holds the address all come from the mirror.
    expect(byEndpoint).toEqual({ 'PUT /v4/subscribers/:id': 1 });
    const lookups = await h.kitCalls(async () => ({
      gone: await h.get(byUserName(old)),
      found: await h.get(byUserName(next)),
    }));
    expect(expectListResponse(lookups.result.gone, 0)).toEqual([]);
    expect(expectListResponse(lookups.result.found, 1)[0].id).toBe(made.body.id);
    expect(lookups.total).toBe(0);
    const again = await h.post('/scim/v2/Users', oktaUser(old));
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(made.body.id);
  });
});
