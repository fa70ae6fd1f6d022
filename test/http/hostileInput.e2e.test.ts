import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request, { type Response } from 'supertest';
import { MAX_FILTER_TERMS, MAX_GROUP_MEMBERS_PER_REQUEST, MAX_USER_VALUES } from '../../src/scim/inputLimits';
import { labels, Metrics } from '../../src/platform/metrics';
import { type Harness, oktaUser, patch, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';

// Hostile input, the parsing half: hostile input answered with a SCIM error (or a documented success), the process
// still serving, and Kit untouched by every refusal. Costs are asserted as Kit call counts from the sandbox's own
// log, and "no expansion" as "refused before any Kit call": never as elapsed time.

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
/** Phrases of the JavaScript engine that must never reach a client. */
const ENGINE_WORDING = /is not a function|Cannot read propert|of undefined|of null|\?\.|is not iterable/;

let h: Harness;
let auditFile: string;
/** What the service logged at warn and above, one JSON line each. */
const logged: string[] = [];
let userId: string;
let otherUserId: string;
let groupId: string;
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  auditFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-')), 'audit.jsonl');
  const logger = pino({ level: 'warn' }, { write: (line: string) => logged.push(line) });
  h = await startHarness({ env: { AUDIT_LOG: auditFile }, logger });
  const u = await h.post('/scim/v2/Users', oktaUser('hostile.target@example.com'));
  const other = await h.post('/scim/v2/Users', oktaUser('hostile.other@example.com'));
  const g = await h.post('/scim/v2/Groups', {
    schemas: [GROUP_SCHEMA],
    displayName: 'Engineering',
    members: [{ value: u.body.id }],
  });
  expect([u.status, other.status, g.status]).toEqual([201, 201, 201]);
  userId = u.body.id;
  otherUserId = other.body.id;
  groupId = g.body.id;
});

afterAll(async () => {
  await h.close();
});

afterEach(async () => {
  // Nothing reached a built-in prototype, and the server still answers.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  expect((await request(h.service.app).get('/healthz')).status).toBe(200);
});

function kitDigest(): string {
  return createHash('sha256').update(JSON.stringify(h.sandbox.store.toSnapshot())).digest('hex');
}

const readonly = (p: string) => request(h.service.app).get(p).set('Authorization', `Bearer ${READONLY_TOKEN}`);

/** Sends a request, then checks it was refused as expected with no Kit call at all (so nothing was changed). */
async function refusedBeforeKit(send: () => request.Test, status: number, scimType?: string): Promise<Response> {
  const before = kitDigest();
  h.sandbox.resetCalls();
  // Liveness is asked while the hostile request is in flight, not only after it.
  const [res, health] = await Promise.all([send(), request(h.service.app).get('/healthz')]);
  expect(health.status).toBe(200);
  expectScimError(res, status, scimType);
  expect(res.body.detail).not.toMatch(ENGINE_WORDING);
  expect(h.sandbox.calls().log.map((c) => c.endpoint)).toEqual([]);
  expect(kitDigest()).toBe(before);
  return res;
}

const q = encodeURIComponent;

/** The newest audit record matching `pred`; the audit stream is written asynchronously, so it may take a few turns. */
async function lastAuditLine(pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, any>> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const lines = fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8').trim().split('\n').filter(Boolean) : [];
    const found = lines.map((l) => JSON.parse(l)).filter(pred);
    if (found.length > 0) return found[found.length - 1];
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no matching audit record was written');
}

describe('prototype keys', () => {
  it('refuses __proto__, constructor and prototype in filters, attribute lists, PATCH paths and body keys', async () => {
    const f = await refusedBeforeKit(
      () => readonly(`/scim/v2/Users?filter=${q('name.__proto__.x eq "1"')}`),
      400,
      'invalidFilter',
    );
    expect(f.body.detail).toMatch(/__proto__/);
    await refusedBeforeKit(() => readonly(`/scim/v2/Users?filter=${q('constructor.x eq "1"')}`), 400, 'invalidFilter');
    await refusedBeforeKit(() => readonly('/scim/v2/Users?attributes=name.__proto__.y'), 400, 'invalidValue');
    await refusedBeforeKit(
      () => readonly(`/scim/v2/Groups/${groupId}?excludedAttributes=members.prototype`),
      400,
      'invalidValue',
    );
    await refusedBeforeKit(
      () =>
        h.patch(
          `/scim/v2/Groups/${groupId}`,
          patch({ op: 'remove', path: 'members[value eq "1" or value.__proto__.z eq "2"]' }),
        ),
      400,
      'invalidPath',
    );
    await refusedBeforeKit(
      () => h.patch(`/scim/v2/Users/${userId}`, patch({ op: 'replace', path: 'name.constructor', value: 'x' })),
      400,
      'invalidPath',
    );
    // Discovery endpoints: scimmy-routers hands these lists straight to scimmy's parser.
    await refusedBeforeKit(() => readonly('/scim/v2/Schemas?attributes=name.__proto__.y'), 400, 'invalidValue');
    await refusedBeforeKit(
      () => readonly('/scim/v2/ResourceTypes?excludedAttributes=constructor.prototype.z'),
      400,
      'invalidValue',
    );
    // An own "__proto__" key survives JSON.parse; the body is refused before anything copies it.
    const body = `{"schemas":["${GROUP_SCHEMA}"],"displayName":"Proto","__proto__":{"isAdmin":true}}`;
    await refusedBeforeKit(
      () => h.post('/scim/v2/Groups').set('Content-Type', 'application/scim+json').send(body),
      400,
      'invalidValue',
    );
    await refusedBeforeKit(
      () => h.post('/scim/v2/Users', { ...oktaUser('proto@example.com'), name: { constructor: { prototype: {} } } }),
      400,
      'invalidValue',
    );
  });

  it('survives a dependency writing to Object.prototype: the write is undone and metrics keep working', async () => {
    // What scimmy 1.3.5's filter parser does mid-request; prom-client then throws in the response's 'close' listener,
    // an uncaught exception that ended the process. That request may fail; the process and the next must not.
    // Non-enumerable here: for the whole request an enumerable key would also reach prom-client's own GC
    // observer (it builds its label object from a plain literal) whenever a collection happens to run, which is
    // chance, not this test. The enumerable case for our own label objects is the synchronous test below.
    Object.defineProperty(Object.prototype, 'x', { value: '1', enumerable: false, configurable: true, writable: true });
    try {
      const res = await request(h.service.app).get('/scim/v2/Groups').set('Authorization', `Bearer ${TOKEN}`);
      expect(res.headers['content-type']).toMatch(/application\/scim\+json/);
      // The guard runs when the response closes.
      await new Promise((resolve) => setImmediate(resolve));
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('x');
      const report = logged.map((l) => JSON.parse(l)).find((l) => /built-in prototype was written/.test(l.msg));
      expect(report.writes).toEqual([{ prototype: 'Object.prototype', keys: ['x'] }]);
    } finally {
      delete (Object.prototype as Record<string, unknown>).x;
    }
    expect((await request(h.service.app).get('/scim/v2/Groups').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(
      200,
    );
    const metrics = await request(h.service.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/scim_http_requests_total\{method="GET",route="\/scim\/v2\/Groups",status="200"\}/);
  });
});

describe('metric labels under an enumerable prototype key', () => {
  it('our label objects carry no inherited key, so prom-client accepts them', () => {
    const registry = new Metrics({ collectDefaults: false });
    Object.defineProperty(Object.prototype, 'y', { value: '1', enumerable: true, configurable: true, writable: true });
    try {
      // Synchronous: nothing else (a GC observer, another request) can run while the key is there.
      expect(() => registry.reactivationRejected.inc(labels({ operation: 'create' }))).not.toThrow();
      expect(() => registry.reactivationRejected.inc({ operation: 'create' })).toThrow(/Added label "y"/);
    } finally {
      delete (Object.prototype as Record<string, unknown>).y;
    }
  });
});

describe('expanding filters', () => {
  const pairs = (n: number) =>
    Array.from({ length: n }, (_, i) => `(title eq "a${i}" or title eq "b${i}")`).join(' and ');

  it('refuses a filter that multiplies out to 2^16 terms, naming the limit, before any Kit call', async () => {
    const get = await refusedBeforeKit(() => readonly(`/scim/v2/Users?filter=${q(pairs(16))}`), 400, 'invalidFilter');
    expect(get.body.detail).toContain(String(MAX_FILTER_TERMS));
    await refusedBeforeKit(
      () => h.post('/scim/v2/Users/.search', { schemas: [SEARCH], filter: pairs(40) }),
      400,
      'invalidFilter',
    );
    // Eight pairs are 256 terms: within the budget, answered normally.
    expectListResponse(await readonly(`/scim/v2/Users?filter=${q(pairs(8))}&count=1`), 0);
  });

  it('reads value filters in attribute lists as their attribute, never multiplied out (discovery refuses them)', async () => {
    const list = Array.from({ length: 16 }, (_, i) => `emails[type eq "a${i}" or type eq "b${i}"]`).join(',');
    // One user by id: a lookup, so no walk is cached for the paging tests below.
    const byId = `filter=${q(`id eq "${userId}"`)}`;
    const plain = await h.kitCalls(() => readonly(`/scim/v2/Users?${byId}&attributes=emails`));
    const filtered = await h.kitCalls(() => readonly(`/scim/v2/Users?${byId}&attributes=${q(list)}`));
    expect(filtered.result.status).toBe(200);
    expect(filtered.result.body.Resources).toEqual(plain.result.body.Resources);
    expect(filtered.result.body.Resources[0].emails).toBeDefined();
    expect(filtered.total).toBeLessThanOrEqual(plain.total);
    const one = await readonly(`/scim/v2/Users/${userId}?attributes=${q(list)}`);
    expect(Object.keys(one.body).sort()).toEqual(['emails', 'id', 'schemas']);
    await refusedBeforeKit(() => readonly(`/scim/v2/Schemas?attributes=${q(list)}`), 400, 'invalidValue');
    // Plain lists still work there.
    expect((await readonly('/scim/v2/ResourceTypes?attributes=name')).status).toBe(200);
  });

  it('refuses filters nested too deep or too long', async () => {
    const deep = `${'('.repeat(50)}userName eq "a@example.com"${')'.repeat(50)}`;
    expect(
      (await refusedBeforeKit(() => readonly(`/scim/v2/Users?filter=${q(deep)}`), 400, 'invalidFilter')).body.detail,
    ).toMatch(/nests deeper/);
    const long = Array.from({ length: 600 }, (_, i) => `userName eq "u${i}@example.com"`).join(' or ');
    await refusedBeforeKit(
      () => h.post('/scim/v2/Groups/.search', { schemas: [SEARCH], filter: long }),
      400,
      'invalidFilter',
    );
  });
});

describe('pathological strings', () => {
  const dots = `a@${'.'.repeat(50_000)}@`;

  it('refuses a 50,000-character filter value and a 50,000-dot userName before any Kit call', async () => {
    await refusedBeforeKit(
      () => h.post('/scim/v2/Users/.search', { schemas: [SEARCH], filter: `userName eq "${dots}"` }),
      400,
      'invalidFilter',
    );
    await refusedBeforeKit(
      () => h.post('/scim/v2/Users', { ...oktaUser('x@example.com'), userName: dots, emails: [] }),
      400,
      'invalidValue',
    );
    await refusedBeforeKit(
      () =>
        h.patch(
          `/scim/v2/Users/${userId}`,
          patch({ op: 'replace', path: `emails[${'['.repeat(100_000)}`, value: 'x' }),
        ),
      400,
      'invalidPath',
    );
  });

  it('still finds a user by a dotted userName of ordinary length', async () => {
    const found = await readonly(`/scim/v2/Users?filter=${q('userName eq "hostile.target@example.com"')}`);
    expect(expectListResponse(found, 1)[0].id).toBe(userId);
  });
});

describe('huge member lists and the Kit budget', () => {
  it(`refuses a PATCH naming more than ${MAX_GROUP_MEMBERS_PER_REQUEST} members before any Kit call`, async () => {
    // 110,000 ids as Entra's plain list (about 900 KB, under the body limit).
    const value = Array.from({ length: 110_000 }, (_, i) => String(i + 1));
    const res = await refusedBeforeKit(
      () => h.patch(`/scim/v2/Groups/${groupId}`, patch({ op: 'add', path: 'members', value })),
      400,
      'invalidValue',
    );
    expect(res.body.detail).toContain(String(MAX_GROUP_MEMBERS_PER_REQUEST));
  });

  it('skips 10,000 ids that are not users and records a count with the first few, not the whole list', async () => {
    const value = Array.from({ length: 10_000 }, (_, i) => ({ value: `not-a-user-${i}` }));
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.patch(`/scim/v2/Groups/${groupId}`, patch({ op: 'add', path: 'members', value })),
    );
    expect(result.status).toBe(204);
    // Nothing to tag: no bulk call was spent on ids that cannot be subscribers.
    expect(byEndpoint['POST /v4/bulk/tags/subscribers'] ?? 0).toBe(0);
    const last = await lastAuditLine((l) => l.operation === 'patch' && /skipped/.test(String(l.detail)));
    expect(last.detail).toMatch(/^10000 members skipped \(not users\): not-a-user-0, .* and 9980 more$/);
    expect(last.detail.length).toBeLessThan(1000);
    // The warning names the count and the first 20 ids, not 10,000 of them (a 1 MB line before).
    const warning = logged.map((l) => JSON.parse(l)).find((l) => l.msg === 'group members skipped: not users');
    expect(warning).toMatchObject({ skippedCount: 10_000 });
    expect(warning.skipped).toHaveLength(20);
    expect(logged.every((l) => l.length < 4000)).toBe(true);
  });

  it('spends no Kit call on removing 150 subscribers that are not members', async () => {
    const strangers = h.sandbox.store.seedSubscribers(150, { emailPrefix: 'stranger-' }).ids.map(String);
    const before = kitDigest();
    const { result, byEndpoint, total } = await h.kitCalls(() =>
      h.patch(
        `/scim/v2/Groups/${groupId}`,
        patch({ op: 'remove', path: 'members', value: strangers.map((value) => ({ value })) }),
      ),
    );
    expect(result.status).toBe(204);
    expect(byEndpoint['DELETE /v4/tags/:tag_id/subscribers/:id'] ?? 0).toBe(0);
    // Reads only: the tag list (to find the group) and, when the membership index is cold, one membership page.
    expect(h.sandbox.calls().log.every((c) => c.endpoint.startsWith('GET '))).toBe(true);
    expect(total).toBeLessThanOrEqual(2);
    expect(kitDigest()).toBe(before);
  });

  it('still removes a real member among non-members, with one DELETE', async () => {
    const strangers = h.sandbox.store.seedSubscribers(12, { emailPrefix: 'passer-' }).ids.map(String);
    const member = h.sandbox.store.seedSubscribers(1, { emailPrefix: 'member-' }).ids[0];
    const added = await h.patch(
      `/scim/v2/Groups/${groupId}`,
      patch({ op: 'add', path: 'members', value: [{ value: String(member) }] }),
    );
    expect(added.status).toBe(204);
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.patch(
        `/scim/v2/Groups/${groupId}`,
        patch({ op: 'remove', path: 'members', value: [...strangers, String(member)].map((value) => ({ value })) }),
      ),
    );
    expect(result.status).toBe(204);
    expect(byEndpoint['DELETE /v4/tags/:tag_id/subscribers/:id']).toBe(1);
    expect(h.sandbox.store.subscribersOfTag(Number(groupId))).not.toContain(member);
  });
});

describe('reserved names and group DELETE', () => {
  it('refuses names that Kit would trim into the reserved "scim:" space', async () => {
    await refusedBeforeKit(
      () => h.post('/scim/v2/Groups', { schemas: [GROUP_SCHEMA], displayName: ` scim:retired:${groupId}:Engineering` }),
      400,
      'invalidValue',
    );
    await refusedBeforeKit(
      () =>
        h.patch(`/scim/v2/Groups/${groupId}`, patch({ op: 'replace', path: 'displayName', value: '\tscim:hidden' })),
      400,
      'invalidValue',
    );
    expect((await h.get(`/scim/v2/Groups/${groupId}`)).status).toBe(200);
  });

  it('stores a name the way Kit does (trimmed), so it reads back as written', async () => {
    const res = await h.post('/scim/v2/Groups', { schemas: [GROUP_SCHEMA], displayName: '  Padded  ' });
    expect(res.status).toBe(201);
    expect(res.body.displayName).toBe('Padded');
    expect((await h.get(`/scim/v2/Groups/${res.body.id}`)).body.displayName).toBe('Padded');
  });

  it('finishes a DELETE whose retired name is already taken, without failing after untagging', async () => {
    const g = await h.post('/scim/v2/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'Doomed',
      members: [{ value: otherUserId }],
    });
    expect(g.status).toBe(201);
    // A tag made directly in Kit holding the name the retirement would use.
    const squatter = h.sandbox.store.createTag(`scim:retired:${g.body.id}:Doomed`);
    const res = await h.del(`/scim/v2/Groups/${g.body.id}`);
    expect(res.status).toBe(204);
    expect((await h.get(`/scim/v2/Groups/${g.body.id}`)).status).toBe(404);
    expect(h.sandbox.store.subscribersOfTag(Number(g.body.id))).toEqual([]);
    expect(h.sandbox.store.tagRecord(Number(g.body.id))?.name).toBe(`scim:retired:${g.body.id}:Doomed~2`);
    expect(h.sandbox.store.tagRecord(squatter.id)?.name).toBe(squatter.name);
  });
});

describe('malformed filters, paging, PATCH, Content-Type and PUT ids', () => {
  it('answers malformed filters in our own words, never the engine’s', async () => {
    for (const f of [
      '1 eq 2',
      '(1)',
      'userName eq',
      'userName eq "a" and',
      '"x" eq "y"',
      'userName eq "a" )',
      '[]',
      'not userName eq "a"',
    ]) {
      await refusedBeforeKit(() => readonly(`/scim/v2/Users?filter=${q(f)}`), 400, 'invalidFilter');
    }
    await refusedBeforeKit(
      () => h.patch(`/scim/v2/Users/${userId}`, patch({ op: 'replace', path: 'emails[type eq', value: 'x' })),
      400,
      'invalidPath',
    );
  });

  it('accepts redundant parentheses and evaluates not (a or b) as RFC 7644 says', async () => {
    const twice = await readonly(`/scim/v2/Users?filter=${q('((userName eq "hostile.target@example.com"))')}`);
    expect(expectListResponse(twice, 1)[0].id).toBe(userId);
    const neither = await readonly(
      `/scim/v2/Users?filter=${q('not (userName eq "hostile.target@example.com" or userName eq "hostile.other@example.com") and userName sw "hostile."')}`,
    );
    expectListResponse(neither, 0);
  });

  it('refuses a startIndex no integer can hold; reads a hugely negative one as 1 and clamps count', async () => {
    const digits = '9'.repeat(400);
    const res = await refusedBeforeKit(() => readonly(`/scim/v2/Users?startIndex=${digits}`), 400, 'invalidValue');
    expect(res.body.detail).toMatch(/startIndex must be at most/);
    const low = await readonly(`/scim/v2/Groups?startIndex=-${digits}&count=${digits}`);
    expectListResponse(low);
    expect(low.body.startIndex).toBe(1);
    expect(low.body.itemsPerPage).toBeLessThanOrEqual(1000);
  });

  it('answers a startIndex far past the end without walking Kit to the end', async () => {
    h.sandbox.store.seedSubscribers(2500, { emailPrefix: 'walker-' });
    const { result, byEndpoint } = await h.kitCalls(() =>
      readonly('/scim/v2/Users?startIndex=1000000000000000&count=5'),
    );
    expect(expectListResponse(result)).toEqual([]);
    expect(result.body.totalResults).toBeGreaterThan(2500);
    // The first Kit page carries the total; the other pages of the walk are not read.
    expect(byEndpoint['GET /v4/subscribers']).toBe(1);
  });

  it('refuses an invalid user PATCH before reading the user from Kit', async () => {
    for (const [op, scimType] of [
      [{ op: 'replace', path: 'foo', value: 'x' }, 'invalidPath'],
      [{ op: 'replace', path: 'active', value: 'maybe' }, 'invalidValue'],
      [{ op: 'replace', path: 'name.givenName', value: { nested: true } }, 'invalidValue'],
      [{ op: 'add', path: 'emails[type eq "work"].nope', value: 'x' }, 'invalidPath'],
      [{ op: 'replace', path: 'emails[foo eq "work"].value', value: 'a@example.com' }, 'invalidPath'],
      [{ op: 'copy', path: 'userName', value: 'x' }, 'invalidSyntax'],
    ] as const) {
      await refusedBeforeKit(() => h.patch(`/scim/v2/Users/${userId}`, patch(op)), 400, scimType);
    }
  });

  it('says which Content-Type a body needs when curl -d sends a form', async () => {
    const res = await refusedBeforeKit(
      () =>
        h
          .post('/scim/v2/Users')
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .send(JSON.stringify(oktaUser('form@example.com'))),
      415,
    );
    expect(res.body.detail).toMatch(/application\/scim\+json/);
    expect(res.body.detail).toMatch(/application\/x-www-form-urlencoded/);
  });

  it('refuses a filter on an attribute the resource type does not have, naming it', async () => {
    const res = await refusedBeforeKit(
      () => readonly(`/scim/v2/Users?filter=${q('foo eq "x"')}`),
      400,
      'invalidFilter',
    );
    expect(res.body.detail).toContain('"foo"');
    await refusedBeforeKit(() => readonly(`/scim/v2/Groups?filter=${q('userName eq "x"')}`), 400, 'invalidFilter');
    await refusedBeforeKit(() => readonly(`/scim/v2/Users?filter=${q('emails[foo eq "x"]')}`), 400, 'invalidFilter');
    // Declared attributes, extensions included, are filterable.
    const ext = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "none"';
    expectListResponse(await readonly(`/scim/v2/Users?filter=${q(ext)}`), 0);
  });

  it('refuses a PUT whose body names another id', async () => {
    const res = await refusedBeforeKit(
      () => h.put(`/scim/v2/Users/${userId}`, { ...oktaUser('hostile.target@example.com'), id: otherUserId }),
      400,
      'invalidValue',
    );
    expect(res.body.detail).toContain(otherUserId);
    await refusedBeforeKit(
      () => h.put(`/scim/v2/Groups/${groupId}`, { schemas: [GROUP_SCHEMA], id: '1', displayName: 'Engineering' }),
      400,
      'invalidValue',
    );
    // The same id is fine.
    expect(
      (await h.put(`/scim/v2/Users/${userId}`, { ...oktaUser('hostile.target@example.com'), id: userId })).status,
    ).toBe(200);
  });
});

describe('value lists no Kit subscriber can hold', () => {
  it('refuses a User with more than MAX_USER_VALUES values in one attribute before scimmy reads it', async () => {
    const emails = Array.from({ length: MAX_USER_VALUES + 1 }, (_, i) => ({ value: `many.${i}@example.com` }));
    const created = await refusedBeforeKit(
      () => h.post('/scim/v2/Users', { ...oktaUser('many.values@example.com'), emails }),
      400,
      'invalidValue',
    );
    expect(created.body.detail).toContain('"emails"');
    expect(created.body.detail).toContain(String(MAX_USER_VALUES));
    const replaced = await refusedBeforeKit(
      () => h.put(`/scim/v2/Users/${userId}`, { ...oktaUser('hostile.target@example.com'), emails }),
      400,
      'invalidValue',
    );
    expect(replaced.body.detail).toContain('"emails"');
    const patched = await refusedBeforeKit(
      () => h.patch(`/scim/v2/Users/${userId}`, patch({ op: 'add', path: 'emails', value: emails })),
      400,
      'invalidValue',
    );
    expect(patched.body.detail).toContain('"Operations[0].value"');
    // At the bound it is an ordinary write.
    const fine = await h.post('/scim/v2/Users', {
      ...oktaUser('many.values@example.com'),
      emails: emails.slice(0, MAX_USER_VALUES),
    });
    expect(fine.status).toBe(201);
  });
});

describe('group member lists, read without scimmy', () => {
  it('refuses a member without a user id, on POST and PUT, before any Kit call', async () => {
    const created = await refusedBeforeKit(
      () => h.post('/scim/v2/Groups', { schemas: [GROUP_SCHEMA], displayName: 'No Ids', members: [{ display: 'x' }] }),
      400,
      'invalidValue',
    );
    expect(created.body.detail).toContain('members: each member needs a "value"');
    await refusedBeforeKit(
      () =>
        h.put(`/scim/v2/Groups/${groupId}`, { schemas: [GROUP_SCHEMA], displayName: 'Engineering', members: 'all' }),
      400,
      'invalidValue',
    );
  });
});
