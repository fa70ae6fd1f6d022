import pino from 'pino';
import request, { type Response } from 'supertest';
import { loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { type ResponseDroppingProxy, startResponseDroppingProxy } from '../fixtures/http/responseDroppingProxy';
import { type Harness, oktaUser, patch, startHarness, TOKEN } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';

// Kit faults: an IdP pushing through a flaky Kit ends with exactly what it pushed, a group DELETE cut
// short by an outage is finished by a repeat, and no answer given meanwhile looks like a deletion (a 404 for
// something that exists, or an empty list).

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const FAULT_SEED = 6;
const STATS = Boolean(process.env.FAULT_STATS);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const filterBy = (f: string) => `filter=${encodeURIComponent(f)}`;

interface Observed {
  scimRetries: number;
  byStatus: Record<number, number>;
  /** Answers no IdP may ever see; each entry says what and why. */
  violations: string[];
}

const observed = (): Observed => ({ scimRetries: 0, byStatus: {}, violations: [] });

/**
 * One SCIM call the way Okta makes it: repeated on 5xx and 429, after the Retry-After the server sent (capped
 * at 50 ms so the test stays quick). A 5xx other than 503, or a retryable answer without Retry-After, is noted.
 */
async function withRetries(o: Observed, what: string, send: () => Promise<Response>): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await send();
    o.byStatus[res.status] = (o.byStatus[res.status] ?? 0) + 1;
    if (res.status < 500 && res.status !== 429) return res;
    if (res.status !== 503 && res.status !== 429) o.violations.push(`${what}: ${res.status} ${res.text}`);
    const retryAfter = Number(res.headers['retry-after']);
    if (!(retryAfter >= 1)) o.violations.push(`${what}: ${res.status} without Retry-After`);
    if (!/application\/scim\+json/.test(String(res.headers['content-type']))) {
      o.violations.push(`${what}: ${res.status} is not a SCIM Error`);
    }
    if (attempt >= 30) throw new Error(`${what}: still ${res.status} after ${attempt} attempts`);
    o.scimRetries++;
    await sleep(Math.min(retryAfter * 1000, 50));
  }
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

interface PushedUser {
  email: string;
  givenName: string;
  familyName: string;
  displayName: string;
  externalId: string;
}

function pushedUsers(n: number, tag: string): PushedUser[] {
  return Array.from({ length: n }, (_, i) => ({
    email: `push-${tag}-${i}@example.com`,
    givenName: `Given${i}`,
    familyName: `Family-${tag}-${i}`,
    displayName: `Display ${tag} ${i}`,
    externalId: `okta-${tag}-${i}`,
  }));
}

/**
 * Okta's create flow for one user: look the userName up, create it when absent. When a create failed (5xx after
 * retries) or answers 409 because an earlier attempt did land in Kit, the flow starts again with the lookup.
 */
/** What the push needs of a harness: SCIM calls and the sandbox to check against. */
type ScimSide = Pick<Harness, 'get' | 'post' | 'sandbox'>;

async function oktaPush(h: ScimSide, o: Observed, u: PushedUser): Promise<'created' | 'linked'> {
  for (let round = 1; round <= 10; round++) {
    const existedBefore = h.sandbox.store.findByEmail(u.email) !== undefined;
    const found = await withRetries(o, `lookup ${u.email}`, () =>
      h.get(`/scim/v2/Users?${filterBy(`userName eq "${u.email}"`)}`),
    );
    if (found.status !== 200) o.violations.push(`lookup ${u.email}: ${found.status} ${found.text}`);
    else if (found.body.totalResults === 0 && existedBefore) {
      o.violations.push(`lookup ${u.email}: an empty list although the subscriber exists`);
    } else if (found.body.totalResults >= 1) return 'linked';
    const body = oktaUser(u.email, {
      name: { givenName: u.givenName, familyName: u.familyName },
      displayName: u.displayName,
      externalId: u.externalId,
    });
    let existedAtSend = false;
    const created = await withRetries(o, `create ${u.email}`, () => {
      existedAtSend = h.sandbox.store.findByEmail(u.email) !== undefined;
      return h.post('/scim/v2/Users', body);
    });
    if (created.status === 201) return 'created';
    // 409 is right only when the subscriber was there already (an earlier attempt of this create landed).
    if (created.status !== 409 || !existedAtSend) {
      o.violations.push(`create ${u.email}: ${created.status} ${created.text}`);
    }
  }
  throw new Error(`${u.email} was neither created nor found in 10 rounds`);
}

/** Every pushed user exists exactly once in Kit, with the data pushed, and reads back through SCIM unchanged. */
async function expectPushedExactlyOnce(h: ScimSide, users: PushedUser[]): Promise<void> {
  const emails = users.map((u) => u.email);
  expect(h.sandbox.store.counts().subscribers).toBe(users.length);
  for (const u of users) {
    const sub = h.sandbox.store.findByEmail(u.email);
    expect(sub).toBeDefined();
    expect(sub!.first_name).toBe(u.givenName);
    expect(sub!.state).toBe('active');
    expect(Object.values(sub!.fields)).toEqual(expect.arrayContaining([u.familyName, u.displayName, u.externalId]));
  }
  const byId = h.sandbox.store.subscribersById();
  const all = Array.from({ length: byId.length }, (_, i) => byId.item(i)!.email);
  expect(all.sort()).toEqual([...emails].sort());
  for (const u of users.slice(0, 20)) {
    const id = h.sandbox.store.findByEmail(u.email)!.id;
    const res = await h.get(`/scim/v2/Users/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      userName: u.email,
      name: { givenName: u.givenName, familyName: u.familyName },
      displayName: u.displayName,
      externalId: u.externalId,
      active: true,
    });
  }
}

/**
 * An IGA tool reading while the push runs: reads of users that exist must never be 404, and a page of a
 * non-empty account never empty. 503/429 are fine (retryable), any other 5xx is not.
 */
function reconciliationReader(h: Harness, o: Observed, users: PushedUser[]): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    let i = 0;
    while (running) {
      i++;
      const existing = users.map((u) => h.sandbox.store.findByEmail(u.email)).filter((s) => s !== undefined);
      if (existing.length > 0) {
        const target = existing[i % existing.length]!;
        const one = await h.get(`/scim/v2/Users/${target.id}`);
        o.byStatus[one.status] = (o.byStatus[one.status] ?? 0) + 1;
        if (one.status === 404) o.violations.push(`GET /Users/${target.id}: 404 for an existing subscriber`);
        else if (one.status >= 500 && one.status !== 503) o.violations.push(`GET /Users/${target.id}: ${one.status}`);
      }
      const countBefore = h.sandbox.store.counts().subscribers;
      const page = await h.get('/scim/v2/Users?startIndex=1&count=25&excludedAttributes=groups');
      o.byStatus[page.status] = (o.byStatus[page.status] ?? 0) + 1;
      if (page.status === 200 && countBefore > 0 && (page.body.Resources ?? []).length === 0) {
        o.violations.push(`GET /Users: an empty page while Kit holds ${countBefore} subscribers`);
      } else if (page.status >= 500 && page.status !== 503) o.violations.push(`GET /Users: ${page.status}`);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('an Okta push of 200 users while 30 % of Kit calls fail with 500', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('creates every user exactly once, with the data sent, and never answers like a deletion', async () => {
    const users = pushedUsers(200, 'flaky');
    const o = observed();
    const outcomes = { created: 0, linked: 0 };
    h.sandbox.resetCalls();
    h.sandbox.setFaults({ errorRate: 0.3, latencyMs: 20, seed: FAULT_SEED });
    const reader = reconciliationReader(h, o, users);
    try {
      await pool(users, 10, async (u) => {
        outcomes[await oktaPush(h, o, u)]++;
      });
    } finally {
      await reader.stop();
      h.sandbox.resetFaults();
    }
    const kit = h.sandbox.calls();
    if (STATS) {
      console.log({ outcomes, scimRetries: o.scimRetries, scimStatuses: o.byStatus, kit: kit.byStatus });
    }
    expect(o.violations).toEqual([]);
    // The faults were real: many Kit calls failed, some SCIM calls had to be repeated.
    expect(kit.byStatus['500'] ?? 0).toBeGreaterThan(100);
    expect(outcomes.created + outcomes.linked).toBe(200);
    await expectPushedExactlyOnce(h, users);
  }, 120_000);
});

describe('creates Kit applies but whose answers are lost (ambiguous failures of POST /v4/subscribers)', () => {
  let sandbox: KitSandbox;
  let proxy: ResponseDroppingProxy;
  let service: Service;
  let scim: ScimSide;
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    // Half of Kit's answers to the create are lost after Kit applied it.
    proxy = await startResponseDroppingProxy(sandbox.url, {
      match: (method, path) => method === 'POST' && path === '/v4/subscribers',
      rate: 0.5,
      seed: FAULT_SEED,
    });
    const config = loadConfig({
      KIT_API_URL: proxy.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
      KIT_TIMEOUT_MS: '3000',
      KIT_RATE_WINDOW_MS: '200',
    });
    service = new Service({ config, logger: pino({ level: 'silent' }) });
    await service.bootstrap();
    const auth = (t: request.Test) => t.set('Authorization', `Bearer ${TOKEN}`);
    scim = {
      sandbox,
      get: (path) => auth(request(service.app).get(path)),
      post: (path, body) =>
        auth(request(service.app).post(path)).set('Content-Type', 'application/scim+json').send(JSON.stringify(body)),
    };
  });
  afterAll(async () => {
    await service.close();
    await proxy.close();
    await sandbox.close();
  });

  it('ends with each user once, as sent: a repeated create neither duplicates nor overwrites', async () => {
    const users = pushedUsers(30, 'lost');
    const o = observed();
    const outcomes = { created: 0, linked: 0 };
    await pool(users, 5, async (u) => {
      outcomes[await oktaPush(scim, o, u)]++;
    });
    const lost = proxy.dropped()['POST /v4/subscribers'] ?? 0;
    if (STATS) console.log({ outcomes, lost, scimRetries: o.scimRetries, scimStatuses: o.byStatus });
    expect(o.violations).toEqual([]);
    // Answers were really lost; most creates still answered 201 (the client's repeat found what Kit applied).
    expect(lost).toBeGreaterThan(10);
    expect(outcomes.created + outcomes.linked).toBe(users.length);
    expect(outcomes.created).toBeGreaterThan(users.length / 2);
    await expectPushedExactlyOnce(scim, users);
  }, 120_000);
});

describe('a Kit outage in the middle of a group DELETE', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  async function groupWithMembers(name: string, n: number): Promise<{ id: string; tagId: number; members: number[] }> {
    const members = h.sandbox.store.seedSubscribers(n, { emailPrefix: `${name.toLowerCase()}-` }).ids;
    const res = await h.post('/scim/v2/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: name,
      members: members.map((m) => ({ value: String(m) })),
    });
    expect(res.status).toBe(201);
    expect(h.sandbox.store.subscribersOfTag(Number(res.body.id))).toHaveLength(n);
    return { id: res.body.id, tagId: Number(res.body.id), members };
  }

  /** Arms a fault the moment the sandbox has applied `afterUntags` untaggings of the tag. */
  function outageAfterUntags(tagId: number, members: number, afterUntags: number, endpoint: string): void {
    let armed = true;
    h.sandbox.store.onChange(() => {
      if (armed && h.sandbox.store.subscribersOfTag(tagId).length <= members - afterUntags) {
        armed = false;
        h.sandbox.setFaults({ endpoints: [endpoint], failNext: 1000, failStatus: 500 });
      }
    });
  }

  /** What an IdP or IGA tool reads of a group that still exists: never a 404, never missing from lists. */
  async function expectStillThere(name: string, id: string, members: number[]): Promise<void> {
    const one = await h.get(`/scim/v2/Groups/${id}`);
    expect(one.status).toBe(200);
    expect(one.body.displayName).toBe(name);
    expect(one.body.members.map((m: { value: string }) => Number(m.value)).sort()).toEqual([...members].sort());
    const byName = expectListResponse(await h.get(`/scim/v2/Groups?${filterBy(`displayName eq "${name}"`)}`), 1);
    expect(byName[0].id).toBe(id);
    const list = expectListResponse(await h.get('/scim/v2/Groups?excludedAttributes=members'));
    expect(list.map((g: { id: string }) => g.id)).toContain(id);
  }

  async function expectFinished(name: string, id: string, members: number[]): Promise<void> {
    expectScimError(await h.get(`/scim/v2/Groups/${id}`), 404);
    expect(h.sandbox.store.subscribersOfTag(Number(id))).toEqual([]);
    for (const m of members) {
      expect(h.sandbox.store.tagsOfSubscriber(m).map((t) => t.id)).not.toContain(Number(id));
      const user = await h.get(`/scim/v2/Users/${m}`);
      expect(user.status).toBe(200);
      expect((user.body.groups ?? []).map((g: { value: string }) => g.value)).not.toContain(id);
    }
    expectListResponse(await h.get(`/scim/v2/Groups?${filterBy(`displayName eq "${name}"`)}`), 0);
    const again = await h.post('/scim/v2/Groups', { schemas: [GROUP_SCHEMA], displayName: name });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
    expect(expectListResponse(await h.get(`/scim/v2/Groups?${filterBy(`displayName eq "${name}"`)}`), 1)[0].id).toBe(
      again.body.id,
    );
  }

  it('answers 503 after some members were untagged; reads still show the group; a repeated DELETE finishes', async () => {
    const name = 'Outage Midway';
    const { id, tagId, members } = await groupWithMembers(name, 8);
    outageAfterUntags(tagId, members.length, 3, 'DELETE /v4/tags/:tag_id/subscribers/:id');
    let remaining: number[];
    try {
      const first = await h.del(`/scim/v2/Groups/${id}`);
      expectScimError(first, 503);
      expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      remaining = h.sandbox.store.subscribersOfTag(tagId);
      expect(remaining).toHaveLength(5);
      // While Kit is still failing the untag calls: the group and its remaining members read as they are.
      await expectStillThere(name, id, remaining);
      const untagged = members.filter((m) => !remaining.includes(m));
      for (const m of untagged) {
        const user = await h.get(`/scim/v2/Users/${m}`);
        expect(user.status).toBe(200);
        expect((user.body.groups ?? []).map((g: { value: string }) => g.value)).not.toContain(id);
      }
      expectScimError(await h.del(`/scim/v2/Groups/${id}`), 503);
    } finally {
      h.sandbox.resetFaults();
    }
    const repeat = await h.del(`/scim/v2/Groups/${id}`);
    expect(repeat.status).toBe(204);
    await expectFinished(name, id, members);
  });

  it('answers 503 when the retirement (tag rename) fails after every member was untagged; a repeat finishes', async () => {
    const name = 'Outage At Retirement';
    const { id, tagId, members } = await groupWithMembers(name, 4);
    outageAfterUntags(tagId, members.length, members.length, 'PUT /v4/tags/:id');
    try {
      const first = await h.del(`/scim/v2/Groups/${id}`);
      expectScimError(first, 503);
      expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(h.sandbox.store.subscribersOfTag(tagId)).toEqual([]);
      await expectStillThere(name, id, []);
      // A PATCH meanwhile still finds the group (no 404): the membership change needs no rename.
      const add = await h.patch(`/scim/v2/Groups/${id}`, patch({ op: 'add', path: 'members', value: [] }));
      expect(add.status).toBe(204);
    } finally {
      h.sandbox.resetFaults();
    }
    expect((await h.del(`/scim/v2/Groups/${id}`)).status).toBe(204);
    await expectFinished(name, id, members);
  });
});

describe('Errors (src/http/errorTable.ts): what each kind of Kit failure becomes', () => {
  let h: Harness;
  let id: string;
  beforeAll(async () => {
    h = await startHarness({ env: { KIT_TIMEOUT_MS: '1000', KIT_MAX_WAIT_MS: '2500' } });
    const created = await h.post('/scim/v2/Users', oktaUser('errors.table@example.com'));
    expect(created.status).toBe(201);
    id = created.body.id;
  });
  afterEach(() => h.sandbox.resetFaults());
  afterAll(() => h.close());

  const expectRetryable = (res: Response, status: 503 | 429) => {
    expectScimError(res, status);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  };

  it('5xx during an `id eq` lookup: 503, never an empty list', async () => {
    h.sandbox.setFaults({ errorRate: 1 });
    expectRetryable(await h.get(`/scim/v2/Users?${filterBy(`id eq "${id}"`)}`), 503);
    h.sandbox.resetFaults();
    expect(expectListResponse(await h.get(`/scim/v2/Users?${filterBy(`id eq "${id}"`)}`), 1)[0].id).toBe(id);
    expectListResponse(await h.get(`/scim/v2/Users?${filterBy('id eq "999999999"')}`), 0);
  });

  it('a connection reset: 503 with Retry-After, never 404', async () => {
    h.sandbox.setFaults({ dropRate: 1, endpoints: ['GET /v4/subscribers/:id'] });
    expectRetryable(await h.get(`/scim/v2/Users/${id}`), 503);
  });

  it('a timeout: 503 with Retry-After, never 404', async () => {
    h.sandbox.setFaults({ latencyMs: 1500, endpoints: ['GET /v4/subscribers/:id'] });
    expectRetryable(await h.get(`/scim/v2/Users/${id}`), 503);
  });

  it('429: waited out inside the limiter; when it outlasts the caller, 429 with Retry-After', async () => {
    // One 429 (Retry-After: 1 s) inside the caller's 2.5 s: the 1.5 s left is slack for a busy machine. Two
    // left 0.5 s for three exchanges, which a loaded run can use up (a 429 where a 200 is due).
    h.sandbox.resetCalls();
    h.sandbox.setFaults({ failNext: 1, failStatus: 429 });
    expect((await h.get(`/scim/v2/Users/${id}`)).status).toBe(200);
    expect(h.sandbox.calls().byStatus['429']).toBe(1);
    h.sandbox.setFaults({ failNext: 1000, failStatus: 429 });
    expectRetryable(await h.get(`/scim/v2/Users/${id}`), 429);
  });

  it('422: 400 invalidValue with Kit’s message, nothing changed', async () => {
    h.sandbox.setFaults({ failNext: 1, failStatus: 422, endpoints: ['PUT /v4/subscribers/:id'] });
    const res = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'name.givenName', value: 'Zed' }));
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toContain('Injected fault (HTTP 422)');
    expect(h.sandbox.store.getSubscriber(Number(id))!.first_name).toBe('Ada');
  });

  it('401 on our credentials: 502 (never 401), readiness red, and green again once Kit accepts them', async () => {
    h.sandbox.setFaults({ failNext: 1, failStatus: 401 });
    const res = await h.get(`/scim/v2/Users/${id}`);
    expectScimError(res, 502);
    expect(res.body.detail).toMatch(/credentials/);
    const red = await request(h.service.app).get('/readyz');
    expect(red.status).toBe(503);
    expect(red.body.checks.kit.ok).toBe(false);
    // The credentials work again: the next call that Kit accepts turns readiness back, without a restart.
    expect((await h.get(`/scim/v2/Users/${id}`)).status).toBe(200);
    expect((await request(h.service.app).get('/readyz')).status).toBe(200);
  });

  it('group reads while Kit fails the member pages or the tag list: 503, never 404 or an empty list', async () => {
    const group = await h.post('/scim/v2/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'Errors Table',
      members: [{ value: id }],
    });
    expect(group.status).toBe(201);
    h.sandbox.setFaults({ errorRate: 1, endpoints: ['GET /v4/tags/:tag_id/subscribers'] });
    expectRetryable(await h.get(`/scim/v2/Groups/${group.body.id}`), 503);
    expectRetryable(await h.get(`/scim/v2/Groups?${filterBy('members.value eq "1"')}`), 503);
    h.sandbox.setFaults({ errorRate: 1, endpoints: ['GET /v4/tags'] });
    expectRetryable(await h.get(`/scim/v2/Groups?${filterBy('displayName eq "Errors Table"')}`), 503);
  });
});
