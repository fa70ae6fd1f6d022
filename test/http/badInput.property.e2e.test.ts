import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import regressions from '../fixtures/http/bad-input-regressions.json';
import { type Harness, oktaUser, PATCH_SCHEMA, startHarness, TOKEN, USER_SCHEMA } from '../support/harness';
import { LIST_RESPONSE_SCHEMA, SCIM_ERROR_SCHEMA } from '../support/scim';

// Bad input: random and malformed users, groups, filters, query parameters and PATCH bodies thrown at
// the running server (its own HTTP server, the Kit sandbox behind it). Whatever arrives:
// - the server answers, never with a 5xx (no Kit faults are injected here), and keeps serving;
// - every refusal (4xx) is a SCIM Error in application/scim+json;
// - every refusal leaves Kit exactly as it was: the same digest of the sandbox's whole store, and no write
//   endpoint (POST/PUT/DELETE) that Kit accepted;
// - an accepted create or change leaves a resource that reads back (no success followed by a 404);
// - nothing reaches Object.prototype.
//
// Reproduce a failure with FC_SEED=<seed> FUZZ_RUNS=<n> (fast-check prints the seed and the shrunk counterexample);
// FC_STATS=1 prints the statuses each property produced.
//
// Budget: every property runs FUZZ_RUNS cases (the busier PATCH/filter properties 5/3 as many), 24 by default
// so `npm test` stays in seconds on a loaded machine; the fixed seed keeps each run the same cases, and the
// regressions below replay every input a deep run found. FUZZ_RUNS=120 is the deep run (FC_RUNS still works).

const SEED = Number(process.env.FC_SEED ?? 0x5c1a6);
const RUNS = Number(process.env.FUZZ_RUNS ?? process.env.FC_RUNS ?? 24);
/** `deepRuns` is the property's budget in a deep run of 120; it scales with FUZZ_RUNS. */
const fcOptions = (deepRuns = 120): fc.Parameters<unknown> => ({
  seed: SEED,
  numRuns: Math.max(1, Math.round((RUNS * deepRuns) / 120)),
  endOnFailure: false,
});

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const KIT_EXT = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';
const WRITE = /^(POST|PUT|DELETE) /;
const ENGINE_WORDING =
  /is not a function|Cannot read propert|Cannot set propert|of undefined|of null|\?\.|is not iterable/;
/** Replaced, in the serialised body, by a deeply nested JSON value (the client's JSON.stringify cannot build it). */
const DEEP = '$DEEP';

let h: Harness;
let base: string;
/** Placeholders generators use for ids and emails that exist only once the fixtures are created. */
let placeholders: Array<[string, string]> = [];
let userId: string;
let inactiveId: string;
let groupId: string;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  h = await startHarness();
  // The service's own HTTP server (not supertest's throwaway one), so its connection-level handling is tested too.
  const server = await h.service.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const u = await h.post('/scim/v2/Users', oktaUser('fuzz.target@example.com'));
  const off = await h.post('/scim/v2/Users', oktaUser('fuzz.inactive@example.com', { active: false }));
  const members = h.sandbox.store.seedSubscribers(3, { emailPrefix: 'fuzz-member-' }).ids.map(String);
  const g = await h.post('/scim/v2/Groups', {
    schemas: [GROUP_SCHEMA],
    displayName: 'Fuzz Target',
    members: [{ value: members[0] }, { value: u.body.id }],
  });
  const other = await h.post('/scim/v2/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Fuzz Other' });
  expect([u.status, off.status, g.status, other.status]).toEqual([201, 201, 201, 201]);
  userId = u.body.id;
  inactiveId = off.body.id;
  groupId = g.body.id;
  placeholders = [
    ['$USER', userId],
    ['$INACTIVE', inactiveId],
    ['$GROUP', groupId],
    ['$OTHER_GROUP', other.body.id],
    ...members.map((id, i): [string, string] => [`$MEMBER${i}`, id]),
    ['$TAKEN_EMAIL', h.sandbox.store.getSubscriber(Number(members[1]))!.email_address],
  ];
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await h.close();
});

// ---- the oracle ----------------------------------------------------------------------------------------------

function kitDigest(): string {
  return createHash('sha256').update(JSON.stringify(h.sandbox.store.toSnapshot())).digest('hex');
}

function resolve(text: string): string {
  let out = text;
  for (const [name, value] of placeholders) out = out.replaceAll(name, value);
  return out;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

function send(method: Method, path: string, body?: string): Promise<Response> {
  let t = request(base)[method](path).set('Authorization', `Bearer ${TOKEN}`);
  if (body !== undefined) t = t.set('Content-Type', 'application/scim+json').send(body);
  return t;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

/** Statuses answered in the current test, so each property can check its inputs reach both outcomes. */
let outcomes = new Map<number, number>();
const answered = (pred: (status: number) => boolean) =>
  [...outcomes].filter(([status]) => pred(status)).reduce((n, [, c]) => n + c, 0);

beforeEach(() => {
  outcomes = new Map();
});

/**
 * Sends one request and checks what every answer must satisfy; returns the response for further checks.
 * A refusal (4xx) must be a SCIM Error and must leave Kit untouched.
 */
async function exchange(method: Method, rawPath: string, rawBody?: string): Promise<Response> {
  const path = resolve(rawPath);
  const body = rawBody === undefined ? undefined : resolve(rawBody);
  const before = kitDigest();
  h.sandbox.resetCalls();
  const res = await send(method, path, body);
  outcomes.set(res.status, (outcomes.get(res.status) ?? 0) + 1);
  if (process.env.FC_STATS === 'detail' && res.status >= 400)
    console.log(res.status, clip(res.body?.detail ?? '', 160));
  const what = () =>
    `${method.toUpperCase()} ${clip(path, 300)}${body === undefined ? '' : ` body=${clip(body, 400)}`} -> ` +
    `${res.status} ${res.headers['content-type']} ${clip(res.text ?? '', 300)}`;
  if (res.status >= 500) throw new Error(`server error: ${what()}`);
  if (res.status >= 400) {
    if (!/^application\/scim\+json/.test(String(res.headers['content-type']))) throw new Error(`not SCIM: ${what()}`);
    const b = res.body;
    if (
      JSON.stringify(b?.schemas) !== JSON.stringify([SCIM_ERROR_SCHEMA]) ||
      b.status !== String(res.status) ||
      typeof b.detail !== 'string'
    ) {
      throw new Error(`not a SCIM Error body: ${what()}`);
    }
    // Details are our own words, never the JavaScript engine's ("… is not a function").
    if (ENGINE_WORDING.test(b.detail)) throw new Error(`engine internals in the detail: ${what()}`);
    // A write Kit itself refused (422 "already been taken") changed nothing; one it accepted did.
    const writes = h.sandbox
      .calls()
      .log.filter((c) => WRITE.test(c.endpoint) && c.status >= 200 && c.status < 300)
      .map((c) => `${c.endpoint} ${c.status}`);
    if (writes.length > 0) throw new Error(`refused, yet Kit was written (${writes.join(', ')}): ${what()}`);
    if (kitDigest() !== before) throw new Error(`refused, yet Kit's data changed: ${what()}`);
  } else if (res.status !== 204) {
    if (!/^application\/scim\+json/.test(String(res.headers['content-type']))) throw new Error(`not SCIM: ${what()}`);
  }
  return res;
}

/** After an accepted create or change, the resource must still read back. */
async function expectReadable(type: 'Users' | 'Groups', id: string): Promise<void> {
  const res = await send('get', `/scim/v2/${type}/${id}`);
  if (res.status !== 200) throw new Error(`${type}/${id} reads ${res.status} after an accepted write: ${res.text}`);
}

afterEach(async () => {
  if (process.env.FC_STATS) console.log(expect.getState().currentTestName, Object.fromEntries(outcomes));
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  expect(({} as any).polluted).toBeUndefined();
  expect(({} as any).isAdmin).toBeUndefined();
  expect(unhandled).toEqual([]);
  // Still alive and serving.
  expect((await request(base).get('/healthz')).status).toBe(200);
});

// ---- generators ----------------------------------------------------------------------------------------------

/** A body or filter as sent; printed shortened in counterexamples (deep and huge ones run to megabytes). */
class Text {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return this.text.length <= 600
      ? JSON.stringify(this.text)
      : `${JSON.stringify(this.text.slice(0, 300))}…${JSON.stringify(this.text.slice(-100))} (${this.text.length} chars)`;
  }
}

const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isAdmin',
  'polluted',
  '',
  ' ',
  'schemas',
  'id',
  'userName',
  'displayName',
  'name',
  'givenName',
  'emails',
  'value',
  'primary',
  'active',
  'members',
  'groups',
  'meta',
  'externalId',
  'op',
  'path',
  'Operations',
  ENTERPRISE,
  KIT_EXT,
];

const unicode = fc.string({ unit: 'grapheme', maxLength: 24 });
const key = fc.oneof(fc.constantFrom(...NASTY_KEYS), unicode);
/** Large, but leaving the body under the 1 MB limit (multi-byte characters included). */
const huge = fc
  .tuple(fc.constantFrom('x', 'é', '💥', '\u202e', '"\\'), fc.constantFrom(10_000, 60_000, 150_000))
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)));
/** Strings for fields that take strings: mostly ordinary unicode, now and then huge, reserved or control-laden. */
const text = fc.oneof(
  { weight: 12, arbitrary: unicode },
  { weight: 1, arbitrary: huge },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'scim:deleted-users',
      'SCIM:retired:1:x',
      'scim:x',
      '  ',
      '\u0000',
      '\ud83d\ude00\u200d',
      '<script>alert(1)</script>',
      '${jndi:ldap://x}',
      'Fuzz Other',
      'fuzz other',
      '../../etc/passwd',
    ),
  },
);
const email = fc
  .tuple(
    fc.stringMatching(/^[a-z][a-z0-9._+-]{0,12}$/),
    fc.constantFrom('example.com', 'EXAMPLE.org', 'xn--bcher-kva.de'),
  )
  .map(([l, d]) => `${l}@${d}`);
/** Emails that already belong to someone: a change to them must be refused (409) with Kit unchanged. */
const takenEmail = fc.constantFrom('$TAKEN_EMAIL', 'fuzz.inactive@example.com', 'FUZZ.INACTIVE@example.com');
const anEmail = fc.oneof({ weight: 4, arbitrary: email }, takenEmail, fc.constantFrom('no-at-sign', '@', 'a@', 'a@b'));
const boolish = fc.constantFrom('True', 'False', 'true', 'false', 'TRUE', ' false ', 'yes', '0', '1', '');
const scalar = fc.oneof(
  { weight: 4, arbitrary: unicode },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  boolish,
  email,
);

/** A JSON value with hostile keys (own `__proto__` properties survive JSON.stringify and express's JSON.parse). */
const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Mostly the right type, now and then anything at all. */
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: anyJson });

/** Sets own properties (defineProperty: assigning `__proto__` would change the prototype instead of sending a key). */
function setPath(target: Record<string, any>, path: readonly (string | number)[], value: unknown): void {
  let node: any = target;
  for (const step of path.slice(0, -1)) {
    if (node[step] === null || typeof node[step] !== 'object' || !Object.hasOwn(node, step)) {
      Object.defineProperty(node, step, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    node = node[step];
  }
  const last = path[path.length - 1];
  if (value === REMOVE) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}
const REMOVE = Symbol('remove');

/** A valid resource with a few of its attributes removed or replaced by hostile values. */
function mutated<T extends Record<string, any>>(
  valid: fc.Arbitrary<T>,
  paths: ReadonlyArray<ReadonlyArray<string | number>>,
): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.tuple(
    fc.constantFrom(...paths),
    fc.oneof({ weight: 3, arbitrary: anyJson }, text, fc.constant<typeof REMOVE>(REMOVE)),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 0, maxLength: 3 })).map(([v, edits]) => {
    const out = structuredClone(v) as Record<string, any>;
    for (const [path, value] of edits) setPath(out, path, value);
    return out;
  });
}

const validUser = fc
  .record({
    email,
    given: text,
    family: unicode,
    display: unicode,
    // Strings ("False") are accepted in PATCH only (Entra sends them there); mostly real booleans here.
    active: fc.oneof({ weight: 6, arbitrary: fc.boolean() }, boolish),
    department: unicode,
  })
  .map(({ email: e, given, family, display, active, department }) => ({
    ...oktaUser(e, {
      name: { givenName: given, familyName: family },
      displayName: display,
      active,
      schemas: [USER_SCHEMA, ENTERPRISE],
    }),
    [ENTERPRISE]: { department },
  }));
const USER_PATHS = [
  ['schemas'],
  ['userName'],
  ['name'],
  ['name', 'givenName'],
  ['name', 'familyName'],
  ['name', '__proto__'],
  ['emails'],
  ['emails', 0],
  ['emails', 0, 'value'],
  ['emails', 0, 'primary'],
  ['emails', 0, 'type'],
  ['emails', 1],
  ['displayName'],
  ['active'],
  ['id'],
  ['externalId'],
  ['groups'],
  ['meta'],
  ['title'],
  [ENTERPRISE],
  [ENTERPRISE, 'department'],
  [ENTERPRISE, 'manager'],
  [KIT_EXT],
  [KIT_EXT, 'state'],
  ['__proto__'],
  ['constructor'],
  ['__proto__', 'polluted'],
  ['constructor', 'prototype', 'polluted'],
] as const;
const users = fc.oneof(
  { weight: 5, arbitrary: mutated(validUser, USER_PATHS) },
  { weight: 1, arbitrary: validUser.map((u) => ({ ...u, userName: '$TAKEN_EMAIL', emails: [] })) },
  { weight: 1, arbitrary: anyJson },
);

const memberId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('$USER', '$INACTIVE', '$MEMBER0', '$MEMBER1', '$MEMBER2') },
  fc.constantFrom('999999999', '0', '-1', '1e3', '__proto__', '', ' 1', '$GROUP'),
  unicode,
);
const validGroup = fc
  .record({
    name: text,
    members: fc.uniqueArray(memberId, { maxLength: 4 }),
  })
  .map(({ name, members }) => ({
    schemas: [GROUP_SCHEMA],
    displayName: name,
    members: members.map((value) => ({ value })),
  }));
const GROUP_PATHS = [
  ['schemas'],
  ['displayName'],
  ['members'],
  ['members', 0],
  ['members', 0, 'value'],
  ['members', 0, 'type'],
  ['members', 5],
  ['externalId'],
  ['id'],
  ['meta'],
  ['__proto__'],
  ['__proto__', 'polluted'],
  ['constructor', 'prototype', 'polluted'],
] as const;
const groups = fc.oneof({ weight: 5, arbitrary: mutated(validGroup, GROUP_PATHS) }, { weight: 1, arbitrary: anyJson });

/** Nests a value thousands of levels deep. */
const deepJson = fc
  .tuple(fc.constantFrom(70, 5_000, 40_000), fc.constantFrom('[', '{"a":', '{"__proto__":'))
  .map(([depth, open]) => `${open.repeat(depth)}"x"${(open === '[' ? ']' : '}').repeat(depth)}`);

/** Serialises a body, sometimes planting a deep value in it. */
const body = (value: fc.Arbitrary<unknown>) =>
  fc.tuple(value, fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, deepJson)).map(([v, deep]) => {
    if (deep === null) return new Text(JSON.stringify(v));
    const planted =
      v && typeof v === 'object' && !Array.isArray(v) ? { ...v, members: DEEP } : { schemas: [USER_SCHEMA], v: DEEP };
    return new Text(JSON.stringify(planted).replace(JSON.stringify(DEEP), deep));
  });

const rawBodies = fc
  .constantFrom(
    '',
    'null',
    '[]',
    '"a string"',
    '42',
    '{',
    '{"userName": ',
    '{"a":1}garbage',
    '\u0000',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '\ufeff{"userName":"bom@example.com"}',
    '{"userName":"dup@example.com","userName":"dup2@example.com"}',
  )
  .map((t) => new Text(t));

// Filters: the RFC 7644 grammar with hostile attribute names, operators and values, then mangled.
const attrPath = fc.oneof(
  fc.constantFrom(
    'userName',
    'UserName',
    'name.givenName',
    'name.familyName',
    'emails',
    'emails.value',
    'emails.type',
    'active',
    'id',
    'externalId',
    'displayName',
    'title',
    'meta.created',
    'meta.lastModified',
    'meta.resourceType',
    'members',
    'members.value',
    'members.display',
    'groups',
    'groups.value',
    `${ENTERPRISE}:department`,
    `${USER_SCHEMA}:userName`,
    `${KIT_EXT}:state`,
    '__proto__',
    'constructor',
    'prototype',
    'name.__proto__',
    'constructor.prototype',
    'hasOwnProperty',
  ),
  fc.stringMatching(/^[A-Za-z][\w$-]{0,10}(\.[A-Za-z]\w{0,6})?$/),
);
const compOp = fc.constantFrom(
  'eq',
  'ne',
  'co',
  'sw',
  'ew',
  'gt',
  'lt',
  'ge',
  'le',
  'EQ',
  'Sw',
  'pr',
  'np',
  'xx',
  '==',
);
const compValue = fc.oneof(
  unicode.map((s) => JSON.stringify(s)),
  email.map((s) => JSON.stringify(s)),
  fc.constantFrom(
    'true',
    'false',
    'null',
    'True',
    '"2024-01-01T00:00:00Z"',
    '"2024-13-45"',
    '1e309',
    '-0',
    '""',
    '"fuzz.target@example.com"',
    '"$USER"',
  ),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map(String),
  fc.stringMatching(/^[\w"\\()[\].:@ -]{0,12}$/),
);
const filterExpr: fc.Arbitrary<string> = fc.letrec((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(attrPath, compOp, compValue)
      .map(([a, o, v]) => (o === 'pr' || o === 'np' ? `${a} ${o}` : `${a} ${o} ${v}`)),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or', 'AND', 'Or'), tie('expr')).map(([l, o, r]) => `${l} ${o} ${r}`),
    tie('expr').map((e) => `not (${e})`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(fc.constantFrom('emails', 'members', 'groups', 'name'), tie('expr')).map(([a, e]) => `${a}[${e}]`),
  ),
})).expr as fc.Arbitrary<string>;
const mangle = (s: fc.Arbitrary<string>) =>
  fc
    .tuple(
      s,
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.oneof(fc.constantFrom('(', ')', '[', ']', '"', ' ', '\\', '.', ':', ' and', 'not'), unicode),
          fc.boolean(),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([t, edits]) => {
      // By code point, so an edit never splits a surrogate pair (a URL could not carry it).
      const out = Array.from(t);
      for (const [at, insert, del] of edits) {
        const i = at % (out.length + 1);
        if (del) out.splice(i, 1);
        else out.splice(i, 0, insert);
      }
      return out.join('');
    });
const filterTexts = fc.oneof(
  { weight: 4, arbitrary: filterExpr },
  { weight: 3, arbitrary: mangle(filterExpr) },
  { weight: 1, arbitrary: unicode },
  {
    weight: 1,
    arbitrary: fc.constantFrom(2, 500, 3_000).map((n) => `${'('.repeat(n)}userName eq "a@example.com"${')'.repeat(n)}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(50, 800)
      .map((n) => Array.from({ length: n }, (_, i) => `userName eq "u${i}@example.com"`).join(' or ')),
  },
);
const filters = filterTexts.map((t) => new Text(t));

// PATCH: typed operations an IdP could send (Entra's shapes included), hostile ones, and wrong types everywhere.
const setOp = fc.constantFrom('replace', 'Replace', 'add', 'Add', ' replace ');
const removeOp = fc.constantFrom('remove', 'Remove', 'REMOVE');
const userOps = fc.oneof(
  fc.record({
    op: setOp,
    path: fc.constantFrom(
      'name.givenName',
      'name.familyName',
      'displayName',
      'externalId',
      'title',
      `${ENTERPRISE}:department`,
      `${USER_SCHEMA}:name.givenName`,
    ),
    value: maybe(text),
  }),
  fc.record({ op: setOp, path: fc.constant('active'), value: maybe(fc.oneof(fc.boolean(), boolish)) }),
  fc.record({
    op: setOp,
    path: fc.constantFrom('userName', 'emails[type eq "work"].value', 'emails[primary eq true].value'),
    value: maybe(anEmail),
  }),
  fc.record({
    op: setOp,
    path: fc.constant('emails'),
    value: maybe(fc.array(fc.record({ value: anEmail, type: fc.constant('work'), primary: fc.boolean() }))),
  }),
  // Okta and Entra: a value object without a path.
  fc.record({
    op: setOp,
    value: maybe(
      fc.record(
        {
          active: fc.oneof(fc.boolean(), boolish),
          displayName: text,
          userName: anEmail,
          name: fc.record({ givenName: text }, { requiredKeys: [] }),
          [`${ENTERPRISE}:department`]: text,
        },
        { requiredKeys: [] },
      ),
    ),
  }),
  fc.record(
    {
      op: removeOp,
      path: fc.constantFrom('displayName', 'title', 'name.familyName', 'externalId', 'emails', 'userName', 'active'),
    },
    { requiredKeys: ['op'] },
  ),
);
const memberValues = fc.array(fc.record({ value: memberId }, { requiredKeys: [] }), { maxLength: 3 });
const groupOps = fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'Add'), path: fc.constant('members'), value: maybe(memberValues) }),
  fc.record({ op: removeOp, path: fc.constant('members'), value: maybe(memberValues) }),
  fc.record({ op: removeOp, path: memberId.map((id) => `members[value eq "${id}"]`) }),
  fc.record({ op: setOp, path: fc.constant('members'), value: maybe(memberValues) }),
  fc.record({ op: setOp, path: fc.constant('displayName'), value: maybe(text) }),
  fc.record({ op: setOp, value: maybe(fc.record({ id: fc.constant('$GROUP'), displayName: text })) }),
  fc.record({ op: setOp, path: fc.constant('externalId'), value: unicode }),
);
const hostileOp = fc.record(
  {
    op: fc.oneof(
      { weight: 3, arbitrary: fc.oneof(setOp, removeOp) },
      fc.constantFrom('copy', 'move', 'test', ''),
      anyJson,
    ),
    path: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'emails[type eq "work"]',
          'emails[type eq "work"].primary',
          'members[value eq "1" or value eq "2"]',
          'members[display eq "x"]',
          'members[value eq "1"].display',
          'groups',
          'id',
          'meta.created',
          'schemas',
          '__proto__',
          '__proto__.polluted',
          'constructor',
          'constructor.prototype.polluted',
          'name.__proto__',
          'emails[__proto__ eq "x"].value',
          'phoneNumbers[type eq "mobile"].value',
          'emails[type eq',
          '',
          ' ',
        ),
      },
      mangle(attrPath),
      anyJson,
    ),
    value: fc.oneof(anyJson, text, fc.constant(DEEP)),
  },
  { requiredKeys: [] },
);
const patchBody = (ops: fc.Arbitrary<Record<string, unknown>>) => {
  const operation = fc.oneof({ weight: 4, arbitrary: ops }, { weight: 1, arbitrary: hostileOp });
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(operation, { minLength: 1, maxLength: 3 }).map((Operations) => ({
        schemas: [PATCH_SCHEMA],
        Operations,
      })),
    },
    // Entra sometimes spells the array in lower case.
    fc.array(operation, { minLength: 1, maxLength: 3 }).map((operations) => ({ schemas: [PATCH_SCHEMA], operations })),
    mutated(
      fc
        .array(operation, { minLength: 0, maxLength: 2 })
        .map((Operations) => ({ schemas: [PATCH_SCHEMA], Operations })),
      [['schemas'], ['Operations'], ['Operations', 0], ['Operations', 0, 'op'], ['__proto__'], ['constructor']],
    ),
    anyJson,
  );
};
const patchText = (ops: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(patchBody(ops), deepJson).map(([b, deep]) => {
    const t = JSON.stringify(b);
    return new Text(t.includes(JSON.stringify(DEEP)) ? t.replaceAll(JSON.stringify(DEEP), deep) : t);
  });

// Query parameters: any of them, any value, sometimes repeated.
const paramName = fc.constantFrom(
  'startIndex',
  'count',
  'attributes',
  'excludedAttributes',
  'sortBy',
  'sortOrder',
  'filter',
  'STARTINDEX',
  'Count',
);
const paramValue = fc.oneof(
  fc.integer({ min: -5, max: 5 }).map(String),
  fc.constantFrom('0', '-1', '1000', '1001', '99999999999999999999999', '1e3', '0x10', ' 2', '2.5', 'NaN', 'Infinity'),
  fc.constantFrom(
    'id',
    'userName',
    'meta.created',
    'displayName',
    'name.givenName,emails',
    'members',
    'groups',
    '__proto__',
    'constructor',
    'name.__proto__',
    'emails.__proto__',
    'toString',
    'ascending',
    'DESCENDING',
    'sideways',
    '(((',
    '[]""',
    ',,,',
    `${ENTERPRISE}:department`,
  ),
  mangle(attrPath),
  unicode,
);
const queryString = fc
  .array(fc.tuple(paramName, paramValue), { minLength: 1, maxLength: 5 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));

const badId = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '0',
    '-1',
    '1e3',
    '0x1',
    '999999999999',
    '9999999999999999',
    '99999999999999999999999',
    'null',
    'undefined',
    '%00',
    '..',
    ' 1',
    '1 ',
  ),
  unicode.filter((s) => s.length > 0),
);

// ---- properties ----------------------------------------------------------------------------------------------

describe('bad input never breaks the server or Kit (fast-check, seed printed on failure)', () => {
  it('POST /Users with random and malformed users', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 8, arbitrary: body(users) }, rawBodies), async (b) => {
        const res = await exchange('post', '/scim/v2/Users', b.text);
        if (res.status === 201) await expectReadable('Users', res.body.id);
      }),
      fcOptions(),
    );
    expect(answered((s) => s === 201)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
    expect(answered((s) => s === 409)).toBeGreaterThan(0);
  });

  it('POST /Groups with random and malformed groups', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 8, arbitrary: body(groups) }, rawBodies), async (b) => {
        const res = await exchange('post', '/scim/v2/Groups', b.text);
        if (res.status === 201) await expectReadable('Groups', res.body.id);
      }),
      fcOptions(),
    );
    expect(answered((s) => s === 201)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('PUT /Users/{id} and /Groups/{id} with random bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.constant('Users' as const), fc.constantFrom('$USER', '$INACTIVE'), body(users)),
          fc.tuple(fc.constant('Groups' as const), fc.constant('$GROUP'), body(groups)),
          fc.tuple(fc.constantFrom('Users' as const, 'Groups' as const), fc.constantFrom('$USER', '$GROUP'), rawBodies),
        ),
        async ([type, id, b]) => {
          const res = await exchange('put', `/scim/v2/${type}/${id}`, b.text);
          if (res.status === 200) await expectReadable(type, resolve(id));
        },
      ),
      fcOptions(),
    );
    expect(answered((s) => s === 200)).toBeGreaterThan(0);
    expect(answered((s) => s >= 400)).toBeGreaterThan(0);
  });

  it('PATCH /Users/{id} with random operations, paths and values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('$USER', '$INACTIVE'), patchText(userOps), async (id, b) => {
        const res = await exchange('patch', `/scim/v2/Users/${id}`, b.text);
        if (res.status === 200) await expectReadable('Users', resolve(id));
      }),
      fcOptions(200),
    );
    expect(answered((s) => s === 200)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('PATCH /Groups/{id} with random operations, paths and values', async () => {
    await fc.assert(
      fc.asyncProperty(patchText(groupOps), async (b) => {
        const res = await exchange('patch', '/scim/v2/Groups/$GROUP', b.text);
        if (res.status === 204) await expectReadable('Groups', groupId);
      }),
      fcOptions(200),
    );
    expect(answered((s) => s === 204)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('GET /Users and /Groups with random filters', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Users', 'Groups'), filters, async (type, f) => {
        const res = await exchange('get', `/scim/v2/${type}?filter=${encodeURIComponent(f.text)}&count=5`);
        if (res.status === 200) expect(res.body.schemas).toEqual([LIST_RESPONSE_SCHEMA]);
        // 431: a filter longer than Node's 16 KB header limit, answered as a SCIM Error naming /.search.
        else expect([400, 431]).toContain(res.status);
      }),
      fcOptions(200),
    );
    expect(answered((s) => s === 200)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('POST /.search with random search bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Users', 'Groups'),
        fc.oneof(
          { weight: 4, arbitrary: filterTexts.map((filter) => ({ filter, count: 3 })) },
          mutated(
            fc.record({
              schemas: fc.constant(['urn:ietf:params:scim:api:messages:2.0:SearchRequest']),
              filter: filterTexts,
              startIndex: fc.integer({ min: -2, max: 5 }),
              count: fc.integer({ min: -2, max: 5 }),
              attributes: paramValue,
              sortBy: paramValue,
            }),
            [['filter'], ['startIndex'], ['count'], ['attributes'], ['sortBy'], ['sortOrder'], ['__proto__']],
          ),
          anyJson,
        ),
        async (type, b) => {
          await exchange('post', `/scim/v2/${type}/.search`, JSON.stringify(b));
        },
      ),
      fcOptions(),
    );
    expect(answered((s) => s === 200)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('list and resource reads with random query parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Users', 'Groups', 'Users/$USER', 'Groups/$GROUP'),
        queryString,
        async (target, q) => {
          const res = await exchange('get', `/scim/v2/${target}?${q}`);
          if (res.status === 200 && !target.includes('/')) {
            expect(res.body.schemas).toEqual([LIST_RESPONSE_SCHEMA]);
            expect(res.body.itemsPerPage).toBe(res.body.Resources.length);
            expect(res.body.Resources.length).toBeLessThanOrEqual(1000);
          }
        },
      ),
      fcOptions(),
    );
    expect(answered((s) => s === 200)).toBeGreaterThan(0);
    expect(answered((s) => s === 400)).toBeGreaterThan(0);
  });

  it('every method on ids that are not resources', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Users', 'Groups'),
        fc.constantFrom<Method>('get', 'put', 'patch', 'delete'),
        badId,
        async (type, method, id) => {
          const b =
            method === 'put'
              ? JSON.stringify(type === 'Users' ? oktaUser('bad-id@example.com') : { displayName: 'bad id' })
              : method === 'patch'
                ? JSON.stringify({
                    schemas: [PATCH_SCHEMA],
                    Operations: [{ op: 'replace', path: 'displayName', value: 'x' }],
                  })
                : undefined;
          const res = await exchange(method, `/scim/v2/${type}/${encodeURIComponent(id)}`, b);
          expect(res.status).toBe(404);
        },
      ),
      fcOptions(),
    );
  });
});

// ---- hostile input families ---------------------------------------------------------------------------------
// Each family is refused (or answered) before it can cost the process or Kit anything; every refusal goes through
// exchange(), so Kit must be untouched, and afterEach checks Object.prototype and /healthz.

/** Per-run cases of the hostile input families: each case can send up to a megabyte, so fewer than the others. */
const HOSTILE_RUNS = Number(process.env.FUZZ_RUNS ?? 25);

const machineryKey = fc.constantFrom('__proto__', 'constructor', 'prototype', '__PROTO__', 'Constructor');
const coreAttribute = fc.constantFrom('name', 'emails', 'userName', 'meta', 'members', 'groups', 'title');
/** An attribute path with a JavaScript machinery segment somewhere. */
const machineryPath = fc
  .tuple(coreAttribute, machineryKey, fc.constantFrom('', '.x', '.polluted'), fc.boolean())
  .map(([attr, key, tail, first]) => (first ? `${key}${tail}` : `${attr}.${key}${tail}`));
/** Filters that multiply out past the term budget: n ANDed pairs of ORs are 2^n terms. */
const expandingFilter = fc
  .tuple(fc.integer({ min: 9, max: 40 }), fc.constantFrom('title', 'displayName', 'userName', 'externalId'))
  .map(([n, attr]) => Array.from({ length: n }, (_, i) => `(${attr} eq "a${i}" or ${attr} eq "b${i}")`).join(' and '));
/** Long strings that make backtracking patterns quadratic: dots between two "@", brackets, spaces. */
const pathological = fc
  .tuple(fc.constantFrom('.', '[', ' ', 'a.', '@.'), fc.integer({ min: 5_000, max: 60_000 }))
  .map(([unit, n]) => `a@${unit.repeat(Math.ceil(n / unit.length))}@`);

describe('hostile input families (fast-check)', () => {
  it('prototype keys in filters, attribute lists, PATCH paths and body keys are refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        machineryPath,
        machineryKey,
        fc.constantFrom('filter', 'attributes', 'userPatch', 'groupPatch', 'memberFilter', 'body'),
        async (attrPath, key, where) => {
          let res: Response;
          if (where === 'filter') {
            res = await exchange('get', `/scim/v2/Users?filter=${encodeURIComponent(`${attrPath} eq "1"`)}`);
          } else if (where === 'attributes') {
            res = await exchange('get', `/scim/v2/Groups?attributes=${encodeURIComponent(attrPath)}`);
          } else if (where === 'userPatch' || where === 'groupPatch') {
            const target = where === 'userPatch' ? '$USER' : '$GROUP';
            const ops = [{ op: 'replace', path: attrPath, value: 'x' }];
            res = await exchange(
              'patch',
              `/scim/v2/${where === 'userPatch' ? 'Users' : 'Groups'}/${target}`,
              JSON.stringify({ schemas: [PATCH_SCHEMA], Operations: ops }),
            );
          } else if (where === 'memberFilter') {
            const path = `members[value eq "1" or value.${key}.z eq "2"]`;
            res = await exchange(
              'patch',
              '/scim/v2/Groups/$GROUP',
              JSON.stringify({ schemas: [PATCH_SCHEMA], Operations: [{ op: 'remove', path }] }),
            );
          } else {
            const body = `{"schemas":["${USER_SCHEMA}"],"userName":"proto@example.com","name":{"${key}":{"polluted":true}}}`;
            res = await exchange('post', '/scim/v2/Users', body);
          }
          expect(res.status).toBe(400);
        },
      ),
      fcOptions(HOSTILE_RUNS),
    );
  });

  it('filters that expand past the term budget are refused, in filters and attribute lists alike', async () => {
    await fc.assert(
      fc.asyncProperty(expandingFilter, fc.constantFrom('get', 'search', 'attributes'), async (f, how) => {
        const res =
          how === 'get'
            ? await exchange('get', `/scim/v2/Users?filter=${encodeURIComponent(f)}`)
            : how === 'search'
              ? await exchange('post', '/scim/v2/Groups/.search', JSON.stringify({ filter: f }))
              : await exchange('get', `/scim/v2/Users?attributes=${encodeURIComponent(f.replaceAll(' and ', ','))}`);
        // 431: a GET whose filter outgrows Node's header limit, answered as a SCIM error before us.
        expect([400, 431]).toContain(res.status);
      }),
      fcOptions(HOSTILE_RUNS),
    );
  });

  it('long pathological strings in filters, userNames, emails and PATCH paths are answered, never hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        pathological,
        fc.constantFrom('search', 'create', 'patchPath', 'patchEmail'),
        async (p, where) => {
          let res: Response;
          if (where === 'search') {
            res = await exchange(
              'post',
              '/scim/v2/Users/.search',
              JSON.stringify({ filter: `userName eq ${JSON.stringify(p)}` }),
            );
          } else if (where === 'create') {
            res = await exchange(
              'post',
              '/scim/v2/Users',
              JSON.stringify({ ...oktaUser('x@example.com'), userName: p, emails: [{ value: p }] }),
            );
          } else {
            const op =
              where === 'patchPath'
                ? { op: 'replace', path: p, value: 'x' }
                : { op: 'replace', path: 'userName', value: p };
            res = await exchange(
              'patch',
              '/scim/v2/Users/$USER',
              JSON.stringify({ schemas: [PATCH_SCHEMA], Operations: [op] }),
            );
          }
          // A filter within the length budget is a valid search that finds nobody, and a userName need not be an
          // email (Kit keeps the user's address); no email, and every malformed path, is refused.
          if (where === 'search' || where === 'patchEmail') expect([200, 400]).toContain(res.status);
          else expect(res.status).toBe(400);
        },
      ),
      fcOptions(HOSTILE_RUNS),
    );
  });

  it('huge member lists are refused past the budget and skipped cheaply below it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1_000, max: 60_000 }), fc.constantFrom('add', 'remove'), async (n, op) => {
        const ids = Array.from({ length: n }, (_, i) => `x${i}`);
        const res = await exchange(
          'patch',
          '/scim/v2/Groups/$GROUP',
          JSON.stringify({ schemas: [PATCH_SCHEMA], Operations: [{ op, path: 'members', value: ids }] }),
        );
        expect(res.status).toBe(n > 10_000 ? 400 : 204);
      }),
      fcOptions(Math.min(HOSTILE_RUNS, 10)),
    );
  });
});

describe('regressions found by the properties (test/fixtures/http/bad-input-regressions.json)', () => {
  it.each(regressions.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    let t = c.body === undefined ? undefined : JSON.stringify(c.body);
    if (t !== undefined && c.deep) {
      const deep = `${c.deep.open.repeat(c.deep.depth)}"x"${(c.deep.open === '[' ? ']' : '}').repeat(c.deep.depth)}`;
      t = t.replace(JSON.stringify(DEEP), deep);
    }
    const res = await exchange(c.method as Method, c.path, t);
    expect(res.status).toBe(c.status);
    if (c.scimType) expect(res.body.scimType).toBe(c.scimType);
    if (c.readable) await expectReadable(c.readable as 'Users' | 'Groups', resolve(c.readablePath ?? ''));
  });
});
