import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { oktaUser, patch } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import {
  client,
  OPERATOR_TOKEN,
  processConfig,
  sandboxFor,
  startTenants,
  tenantConfig,
  tokenOf,
} from '../support/tenants';
import { unique } from '../support/unique';

// Two Kit accounts behind one server, each at /tenants/{id}/scim/v2, isolated from each other.

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

describe('two tenants on two Kit accounts', () => {
  let kitA: KitSandbox;
  let kitB: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;
  const auditFile = path.join(os.tmpdir(), `kscim-tenants-audit-${unique()}.jsonl`);
  const a = () => client(service, tokenOf('a'));
  const b = () => client(service, tokenOf('b'));
  const created: Record<'a' | 'b', { users: Array<{ id: string; userName: string }>; groups: string[] }> = {
    a: { users: [], groups: [] },
    b: { users: [], groups: [] },
  };

  beforeAll(async () => {
    [kitA, kitB] = await Promise.all([sandboxFor(), sandboxFor()]);
    // A's subscriber ids start past B's: an id of A's users names nobody in B (the other way round the ids
    // name some of A's own subscribers, never one of B's).
    kitA.store.seedSubscribers(300, { emailPrefix: 'seeded-a' });
    ({ service, close } = await startTenants(
      [tenantConfig('a', kitA), tenantConfig('b', kitB)],
      processConfig(kitA, { AUDIT_LOG: auditFile, TRUST_PROXY: 'true' }),
      // Past the budget, the next check waits a minute: a slow machine cannot open a slot mid-test.
      { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    ));
  });

  afterAll(async () => {
    await close();
    await Promise.all([kitA.close(), kitB.close()]);
    fs.rmSync(auditFile, { force: true });
  });

  it('provisioned in parallel, neither sees the users or groups of the other', async () => {
    const run = unique();
    const provision = (t: 'a' | 'b') => {
      const c = t === 'a' ? a() : b();
      const base = `/tenants/${t}/scim/v2`;
      return [
        ...[1, 2, 3, 4].map(async (n) => {
          const res = await c.post(`${base}/Users`, oktaUser(`${t}.${n}.${run}@${t}.example`));
          expect(res.status).toBe(201);
          // The Location carries the tenant's own base path.
          expect(res.headers.location).toBe(`${base}/Users/${res.body.id}`);
          expect(res.body.meta.location).toBe(`${base}/Users/${res.body.id}`);
          created[t].users.push({ id: res.body.id, userName: res.body.userName });
        }),
        ...[1, 2].map(async (n) => {
          const res = await c.post(`${base}/Groups`, {
            schemas: [GROUP_SCHEMA],
            displayName: `${t}-group-${n}-${run}`,
          });
          expect(res.status).toBe(201);
          created[t].groups.push(res.body.id);
        }),
      ];
    };
    await Promise.all([...provision('a'), ...provision('b')]);

    // B's account holds only B's users: its whole list is B's.
    const listB = expectListResponse(await b().get('/tenants/b/scim/v2/Users?count=100'));
    expect(listB.map((u) => u.userName).sort()).toEqual(created.b.users.map((u) => u.userName).sort());
    // So does a search at B's root: B's users, then B's groups.
    const rootB = expectListResponse(await b().post('/tenants/b/scim/v2/.search', { count: 100 }), 6);
    expect(
      rootB
        .slice(0, 4)
        .map((u) => u.userName)
        .sort(),
    ).toEqual(created.b.users.map((u) => u.userName).sort());
    expect(
      rootB
        .slice(4)
        .map((g) => g.id)
        .sort(),
    ).toEqual([...created.b.groups].sort());
    for (const [self, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const c = self === 'a' ? a() : b();
      const groups = expectListResponse(await c.get(`/tenants/${self}/scim/v2/Groups?count=100`));
      expect(groups.some((g) => String(g.displayName).startsWith(`${other}-group-`))).toBe(false);
      expect(groups.filter((g) => String(g.displayName).startsWith(`${self}-group-`))).toHaveLength(2);
      for (const user of created[other].users) {
        const filtered = await c.get(
          `/tenants/${self}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`,
        );
        expectListResponse(filtered, 0);
      }
    }
    // A's ids name nobody in B.
    for (const user of created.a.users) expectScimError(await b().get(`/tenants/b/scim/v2/Users/${user.id}`), 404);
    // B's ids name some of A's own (seeded) subscribers: through A, never one of B's.
    for (const user of created.b.users) {
      const res = await a().get(`/tenants/a/scim/v2/Users/${user.id}`);
      expect(res.status).toBe(200);
      expect(res.body.userName).toMatch(/^seeded-a/);
    }
  });

  it('a tenant credential on another tenant: 404 for every method and path, and Kit is not called', async () => {
    const userOfB = created.b.users[0]?.id ?? '1';
    const groupOfB = created.b.groups[0] ?? '1';
    await service.tenant('b')!.scim().membership.membershipIndex({ priority: 'background' });
    kitB.resetCalls();
    const body = oktaUser(`intruder.${unique()}@a.example`);
    // Each from its own address: every refusal counts against its client (see the throttle case below).
    let n = 0;
    const a = () => client(service, tokenOf('a'), `10.18.0.${++n}`);
    const attempts = [
      a().get('/tenants/b/scim/v2/Users'),
      a().get(`/tenants/b/scim/v2/Users/${userOfB}`),
      a().post('/tenants/b/scim/v2/Users', body),
      a().put(`/tenants/b/scim/v2/Users/${userOfB}`, body),
      a().patch(`/tenants/b/scim/v2/Users/${userOfB}`, patch({ op: 'replace', path: 'active', value: false })),
      a().del(`/tenants/b/scim/v2/Users/${userOfB}`),
      a().get('/tenants/b/scim/v2/Groups'),
      a().patch(`/tenants/b/scim/v2/Groups/${groupOfB}`, patch({ op: 'replace', path: 'displayName', value: 'x' })),
      a().del(`/tenants/b/scim/v2/Groups/${groupOfB}`),
      a().post('/tenants/b/scim/v2/Users/.search', {}),
      a().get('/tenants/b/scim/v2/Schemas'),
      a().get('/tenants/b/scim/v2/ServiceProviderConfig'),
      a().get('/tenants/b/scim/v2/NoSuchThing'),
      a().get('/tenants/b/metrics'),
    ];
    for (const res of await Promise.all(attempts)) {
      expectScimError(res, 404);
      expect(res.body.detail).toBe('No such endpoint.');
    }
    expect(kitB.calls().total).toBe(0);
    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toContain(`scim_auth_failures_total{tenant="b",reason="other_tenant"} ${attempts.length}`);
    // The same words as a tenant that does not exist; a wrong credential is still a 401.
    const unknown = await a().get('/tenants/nobody/scim/v2/Users');
    expectScimError(unknown, 404);
    expect(unknown.body.detail).toBe('No such endpoint.');
    expectScimError(
      await client(service, 'not-a-token-of-anyone-0123456789abcdef', '10.18.1.1').get('/tenants/b/scim/v2/Users'),
      401,
    );
    expectScimError(await request(service.app).get('/tenants/b/scim/v2/Users'), 401);
    expect(kitB.calls().total).toBe(0);
  });

  it('credentials of another tenant count as failures: a client that keeps trying is throttled', async () => {
    const intruder = client(service, tokenOf('a'), '10.18.2.1');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await intruder.get('/tenants/b/scim/v2/Users')).status);
    expect(statuses.slice(0, 5)).toEqual([404, 404, 404, 404, 404]);
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 404 || s === 429)).toBe(true);
  });

  it("another tenant's token failing from an address never locks that address's valid tokens out", async () => {
    // One egress address shared by two tenants' IdPs: B's IdP keeps calling A's paths with its own token.
    const from = '10.18.3.1';
    const stale = client(service, tokenOf('b'), from);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await stale.get('/tenants/a/scim/v2/Users')).status);
    // Checked ones are answered as for a tenant that does not exist; past the budget, refused.
    expect(statuses.slice(0, 6)).toEqual([404, 404, 404, 404, 404, 404]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toMatch(/scim_auth_failures_total\{tenant="a",reason="throttled"\} [2-9]/);

    // A's own IdP at the same address is served, for reads and writes, on every path it uses.
    const own = client(service, tokenOf('a'), from);
    const listed = await own.get('/tenants/a/scim/v2/Users');
    expect(listed.status).toBe(200);
    expectListResponse(listed);
    const userOfA = created.a.users[0].id;
    const written = await own.patch(
      `/tenants/a/scim/v2/Users/${userOfA}`,
      patch({ op: 'replace', path: 'active', value: true }),
    );
    expect(written.status).toBe(200);
    expect((await own.get('/tenants/a/metrics')).status).toBe(200);
    // So is B's token on B's own paths.
    expect((await stale.get('/tenants/b/scim/v2/Users')).status).toBe(200);
    // Wrong credentials from that address are still refused unchecked: B's on A, and a token of no one.
    expect((await stale.get('/tenants/a/scim/v2/Users')).status).toBe(429);
    const unknown = await client(service, 'not-a-token-of-anyone-0123456789abcdef', from).get(
      '/tenants/a/scim/v2/Users',
    );
    expectScimError(unknown, 429);
    expect(Number(unknown.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('a hostile tenant segment (prototype names, encodings, huge, nested) is an unknown tenant: 404, Kit untouched', async () => {
    const before = kitA.calls().total + kitB.calls().total;
    const segments = [
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'toString',
      '%5F%5Fproto%5F%5F',
      'A',
      'a%00',
      'a%2Fscim',
      '..',
      '%2e%2e',
      'a'.repeat(5000),
      encodeURIComponent('{"a":{"b":[1]}}'),
      encodeURIComponent('a\u0000\u202e'),
    ];
    for (const segment of segments) {
      const res = await a().get(`/tenants/${segment}/scim/v2/Users`);
      expect([segment.slice(0, 20), res.status]).toEqual([segment.slice(0, 20), 404]);
      expect(res.body.Resources).toBeUndefined();
    }
    expect(kitA.calls().total + kitB.calls().total).toBe(before);
    // Nothing of the attempts reached the prototype the directory or express look things up on.
    expect(({} as Record<string, unknown>).scim).toBeUndefined();
  });

  it('/scim/v2 at the root is no tenant when there are several; the answer points to /tenants/{id}', async () => {
    const res = await a().get('/scim/v2/Users');
    expectScimError(res, 404);
    expect(res.body.detail).toContain('/tenants/{id}/scim/v2');
  });

  it("a tenant's /metrics shows its own series only; /metrics needs the operator's token and shows all", async () => {
    const ofA = await a().get('/tenants/a/metrics');
    expect(ofA.status).toBe(200);
    expect(ofA.text).toMatch(/scim_http_requests_total\{[^}]*tenant="a"[^}]*\} \d+/);
    expect(ofA.text).toMatch(/kit_api_calls_total\{tenant="a",[^}]*\} \d+/);
    expect(ofA.text).not.toContain('tenant="b"');
    const ofB = await b().get('/tenants/b/metrics');
    expect(ofB.status).toBe(200);
    expect(ofB.text).toMatch(/kit_api_calls_total\{tenant="b",[^}]*\} \d+/);
    expect(ofB.text).not.toContain('tenant="a"');
    // Process series (memory, event loop) are the operator's, not a tenant's.
    expect(ofB.text).not.toContain('process_cpu');

    expectScimError(await a().get('/metrics'), 401);
    const all = await client(service, OPERATOR_TOKEN).get('/metrics');
    expect(all.status).toBe(200);
    expect(all.text).toContain('tenant="a"');
    expect(all.text).toContain('tenant="b"');
  });

  it('/readyz lists each tenant; /tenants/{id}/readyz answers for one', async () => {
    const ready = await request(service.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.tenants.a.status).toBe('ok');
    expect(ready.body.tenants.b.status).toBe('ok');
    expect((await request(service.app).get('/tenants/a/readyz')).status).toBe(200);
    expectScimError(await request(service.app).get('/tenants/nobody/readyz'), 404);
  });

  it("each tenant's status page is its own, at /tenants/{id}/status", async () => {
    const page = await request(service.app).get('/tenants/a/status');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/tenants/a/status/login');
    const login = await request(service.app).get('/tenants/a/status/login');
    expect(login.text).toContain('action="/tenants/a/status/login"');
    // Signed in with A's token at A's page only; the session cookie is scoped to A's page.
    const signIn = (tenant: string, token: string) =>
      request(service.app)
        .post(`/tenants/${tenant}/status/login`)
        .set('Host', 'scim.test')
        .set('Origin', 'http://scim.test')
        .set('X-Forwarded-For', '10.18.4.1')
        .type('form')
        .send({ token });
    expect((await signIn('b', tokenOf('a'))).status).toBe(401);
    const signedIn = await signIn('a', tokenOf('a'));
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.location).toBe('/tenants/a/status');
    const cookie = String(signedIn.headers['set-cookie']);
    expect(cookie).toContain('Path=/tenants/a/status');
    const own = await request(service.app).get('/tenants/a/status').set('Cookie', cookie.split(';')[0]);
    expect(own.status).toBe(200);
    expect(own.text).toContain('signed in as okta-a');
    expect((await request(service.app).get('/tenants/b/status').set('Cookie', cookie.split(';')[0])).status).toBe(303);
    expect(service.tenant('a')!.statusBoard).not.toBe(service.tenant('b')!.statusBoard);
    const ops = (id: string) => service.tenant(id)!.statusBoard.snapshot().operations;
    expect(ops('a').length).toBeGreaterThan(0);
    expect(ops('a').every((o) => o.actor === 'okta-a')).toBe(true);
    expect(ops('b').every((o) => o.actor === 'okta-b')).toBe(true);
  });

  it('every audit line names the tenant whose path was used', async () => {
    await close();
    const lines = fs
      .readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const creates = lines.filter((l) => l.operation === 'create');
    expect(creates.filter((l) => l.tenant === 'a')).toHaveLength(6);
    expect(creates.filter((l) => l.tenant === 'b')).toHaveLength(6);
    // The actor is the token's name, which is the tenant's own: a line filed under the wrong tenant shows.
    for (const line of lines) expect(line.actor).toBe(`okta-${line.tenant}`);
    const idsOfA = new Set(created.a.users.map((u) => u.id));
    for (const line of creates.filter((l) => l.resourceType === 'User' && l.tenant === 'a'))
      expect(idsOfA.has(line.resourceId)).toBe(true);
  });
});

describe('a tenant whose Kit key is refused', () => {
  let kitA: KitSandbox;
  let kitB: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    [kitA, kitB] = await Promise.all([sandboxFor(), sandboxFor()]);
    ({ service, close } = await startTenants(
      [tenantConfig('a', kitA), tenantConfig('b', kitB, { kitKey: 'revoked-kit-key-0123456789' })],
      processConfig(kitA),
    ));
  });

  afterAll(async () => {
    await close();
    await Promise.all([kitA.close(), kitB.close()]);
  });

  it('is not ready and answers 503, while the other serves', async () => {
    const b = await request(service.app).get('/tenants/b/readyz');
    expect(b.status).toBe(503);
    expect(b.body.checks.kit.ok).toBe(false);
    expect(JSON.stringify(b.body)).not.toContain('revoked-kit-key');
    const all = await request(service.app).get('/readyz');
    expect(all.status).toBe(200);
    expect(all.body.tenants.b.status).toBe('unavailable');
    expect(all.body.tenants.b.checks.kit.ok).toBe(false);
    expect(all.body.tenants.a.status).toBe('ok');
    expect((await request(service.app).get('/tenants/a/readyz')).status).toBe(200);

    const refused = await client(service, tokenOf('b')).get('/tenants/b/scim/v2/Users');
    expectScimError(refused, 503);
    expect(refused.headers['retry-after']).toBeDefined();

    const email = `served.${unique()}@a.example`;
    const made = await client(service, tokenOf('a')).post('/tenants/a/scim/v2/Users', oktaUser(email));
    expect(made.status).toBe(201);
    const read = await client(service, tokenOf('a')).get(`/tenants/a/scim/v2/Users/${made.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.userName).toBe(email);
  });
});

describe('two tenants on one Kit key', () => {
  let kit: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    kit = await sandboxFor();
    ({ service, close } = await startTenants(
      [
        tenantConfig('a', kit, { env: { GROUP_TAG_PREFIX: 'a:' } }),
        tenantConfig('b', kit, { env: { GROUP_TAG_PREFIX: 'b:' } }),
      ],
      processConfig(kit),
    ));
  });

  afterAll(async () => {
    await close();
    await kit.close();
  });

  it('share one limiter: one credential, one budget', async () => {
    expect(service.tenant('a')!.limiter).toBe(service.tenant('b')!.limiter);
    const res = await client(service, tokenOf('a')).get('/tenants/a/scim/v2/Users');
    expect(res.status).toBe(200);
  });
});
