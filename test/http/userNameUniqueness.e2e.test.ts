import { type Harness, patch, startHarness } from '../support/harness';
import { hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { expectListResponse, expectScimError, scimFixture } from '../support/scim';

// RFC 7644 §3.3 / RFC 7643 §4.1.1: userName is unique within the service provider, case-insensitively. Kit keys
// subscribers by email only, so a userName that is not an email (kept in its own Kit field) is checked by the
// server: Microsoft's reference collection posts "emp3" twice with different emails and expects the second to
// be a 409 uniqueness. Every count below is the Kit sandbox's own.

interface CollectionRequest {
  name: string;
  method: 'POST';
  path: string;
  body: Record<string, any>;
}

const fixture = (file: string) => scimFixture<CollectionRequest>('microsoft', file);

const first = fixture('post-emp3.json');
const duplicate = fixture('post-emp3-exists.json');

/** The collection's body with another userName and email. */
const userNamed = (userName: string, email: string) => ({
  ...first.body,
  userName,
  displayName: userName,
  emails: [{ primary: true, type: 'work', value: email }],
});

/** Subscribers in the account besides the test's own. */
const SEEDED = 1500;
/** A walk of Kit's pages with the seeded subscribers and the test's few: two pages of 1,000. */
const PAGES = 2;

type Mode = 'off' | 'lookups' | 'on';

/**
 * Kit list calls of one uniqueness lookup: the whole mirror answers from its index (0); the lookup mirror does
 * too once walked (its first walk is in beforeAll's create); without a mirror, Kit's pages are walked.
 */
const LOOKUP: Record<Mode, number> = { off: PAGES, lookups: 0, on: 0 };
/** Kit list calls of a create's email lookup (GET /v4/subscribers?email_address=): only the whole mirror answers it. */
const EMAIL_LOOKUP: Record<Mode, number> = { off: 1, lookups: 1, on: 0 };

/** Kit's list endpoint serves both the email lookup and the walk's pages. */
const listCalls = (byEndpoint: Record<string, number>) => byEndpoint['GET /v4/subscribers'] ?? 0;
const writes = (byEndpoint: Record<string, number>) =>
  Object.keys(byEndpoint).filter((endpoint) => !endpoint.startsWith('GET '));

describe.each([
  ['off', { MIRROR: 'off' }],
  ['lookups', { MIRROR: 'lookups' }],
  ['on', { MIRROR: 'on' }],
] as const)('a duplicate userName, mirror %s', (mode, env) => {
  let h: Harness;
  let holderId: string;

  beforeAll(async () => {
    h = await startHarness({ env });
    h.sandbox.store.seedSubscribers(SEEDED, { emailPrefix: 'seeded-' });
    if (mode === 'on') await h.service.scim().tracking.mirror!.walk();
    const created = await h.post(`/scim/v2${first.path}`, first.body);
    expect(created.status).toBe(201);
    holderId = created.body.id;
  });
  afterAll(() => h.close());

  it('a second POST of "emp3" with another email is 409 uniqueness naming the holder, and Kit is not written', async () => {
    const { result, byEndpoint } = await h.kitCalls(() => h.post(`/scim/v2${duplicate.path}`, duplicate.body));
    expectScimError(result, 409, 'uniqueness');
    expect(result.body.detail).toContain(`id ${holderId}`);
    expect(result.body.detail).toContain('"emp3"');
    expect(h.sandbox.store.findByEmail(duplicate.body.emails[0].value)).toBeUndefined();
    expect(listCalls(byEndpoint)).toBe(EMAIL_LOOKUP[mode] + LOOKUP[mode]);
    expect(writes(byEndpoint)).toEqual([]);
  });

  it.each([
    ['letter case', 'EMP3'],
    ['fullwidth letters', 'ｅｍｐ３'],
    ['an invisible character', 'emp\u200b3'],
  ])('a variant by %s is the same userName: 409', async (_variant, userName) => {
    const res = await h.post('/scim/v2/Users', userNamed(userName, `variant.${userName.length}@contoso.example`));
    expectScimError(res, 409, 'uniqueness');
    expect(res.body.detail).toContain(`id ${holderId}`);
  });

  it('a free non-email userName is created', async () => {
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.post('/scim/v2/Users', userNamed('emp5', 'emp5@contoso.example')),
    );
    expect(result.status).toBe(201);
    expect(result.body.userName).toBe('emp5');
    expect(listCalls(byEndpoint)).toBe(EMAIL_LOOKUP[mode] + LOOKUP[mode]);
    expect(writes(byEndpoint)).toEqual(['POST /v4/subscribers']);
  });

  describe('PUT and PATCH', () => {
    let otherId: string;
    beforeAll(async () => {
      const other = await h.post('/scim/v2/Users', userNamed('emp4', 'emp4@contoso.example'));
      expect(other.status).toBe(201);
      otherId = other.body.id;
    });

    it("PUT to another user's userName is 409 uniqueness, and Kit is not written", async () => {
      const { result, byEndpoint } = await h.kitCalls(() =>
        h.put(`/scim/v2/Users/${otherId}`, { ...userNamed('Emp3', 'emp4@contoso.example'), id: otherId }),
      );
      expectScimError(result, 409, 'uniqueness');
      expect(result.body.detail).toContain(`id ${holderId}`);
      expect(listCalls(byEndpoint)).toBe(LOOKUP[mode]);
      expect(writes(byEndpoint)).toEqual([]);
      expect((await h.get(`/scim/v2/Users/${otherId}`)).body.userName).toBe('emp4');
    });

    it("PATCH to another user's userName is 409 uniqueness", async () => {
      const { result, byEndpoint } = await h.kitCalls(() =>
        h.patch(`/scim/v2/Users/${otherId}`, patch({ op: 'replace', path: 'userName', value: 'emp3' })),
      );
      expectScimError(result, 409, 'uniqueness');
      expect(result.body.detail).toContain(`id ${holderId}`);
      expect(listCalls(byEndpoint)).toBe(LOOKUP[mode]);
      expect(writes(byEndpoint)).toEqual([]);
      expect((await h.get(`/scim/v2/Users/${otherId}`)).body.userName).toBe('emp4');
    });

    it("PUT with the user's own userName is 200, and costs no uniqueness lookup", async () => {
      const { result, byEndpoint } = await h.kitCalls(() =>
        h.put(`/scim/v2/Users/${holderId}`, { ...first.body, id: holderId, displayName: 'Employee Three' }),
      );
      expect(result.status).toBe(200);
      expect(result.body.userName).toBe('emp3');
      expect(listCalls(byEndpoint)).toBe(0);
      expect(writes(byEndpoint)).toEqual(['PUT /v4/subscribers/:id']);
    });

    it('PATCH to a free userName is 200', async () => {
      const { result, byEndpoint } = await h.kitCalls(() =>
        h.patch(`/scim/v2/Users/${otherId}`, patch({ op: 'replace', path: 'userName', value: 'emp4b' })),
      );
      expect(result.status).toBe(200);
      expect(result.body.userName).toBe('emp4b');
      expect(listCalls(byEndpoint)).toBe(LOOKUP[mode]);
      expect(writes(byEndpoint)).toEqual(['PUT /v4/subscribers/:id']);
    });
  });

  it('two concurrent creates of one new userName on one replica: one 201, one 409', async () => {
    const [a, b] = await Promise.all([
      h.post('/scim/v2/Users', userNamed('emp7', 'emp7.a@contoso.example')),
      h.post('/scim/v2/Users', userNamed('Emp7', 'emp7.b@contoso.example')),
    ]);
    const [created, refused] = a.status === 201 ? [a, b] : [b, a];
    expect(created.status).toBe(201);
    expectScimError(refused, 409, 'uniqueness');
    expect(refused.body.detail).toContain(`id ${created.body.id}`);
    expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "emp7"')}`), 1);
  });

  it("a deleted user's userName is free again", async () => {
    const gone = await h.post('/scim/v2/Users', userNamed('emp6', 'emp6@contoso.example'));
    expect(gone.status).toBe(201);
    expect((await h.del(`/scim/v2/Users/${gone.body.id}`)).status).toBe(204);
    const again = await h.post('/scim/v2/Users', userNamed('EMP6', 'emp6.again@contoso.example'));
    expect(again.status).toBe(201);
    const [found] = expectListResponse(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "emp6"')}`),
      1,
    );
    expect(found.id).toBe(again.body.id);
  });
});

(hasRedisServer ? describe : describe.skip)('one userName created on two replicas at once', () => {
  let redis: PrivateRedis;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    const env = { REDIS_URL: redis.url, MIRROR: 'off' };
    a = await startHarness({ env });
    b = await startHarness({ env, kitSandbox: a.sandbox });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('one is created and the other is a 409 uniqueness: Kit holds one subscriber with that userName', async () => {
    // Kit's lookups slow enough that both replicas check the name before either has created its user.
    a.sandbox.setFaults({ latencyMs: 150, endpoints: ['GET /v4/subscribers'] });
    try {
      const [fromA, fromB] = await Promise.all([
        a.post('/scim/v2/Users', userNamed('racer', 'racer.a@example.com')),
        b.post('/scim/v2/Users', userNamed('racer', 'racer.b@example.com')),
      ]);
      expect([fromA.status, fromB.status].sort()).toEqual([201, 409]);
      const refused = fromA.status === 409 ? fromA : fromB;
      expectScimError(refused, 409, 'uniqueness');
    } finally {
      a.sandbox.resetFaults();
    }
    const held = ['racer.a@example.com', 'racer.b@example.com'].filter((e) => a.sandbox.store.findByEmail(e));
    expect(held).toHaveLength(1);
  });
});
