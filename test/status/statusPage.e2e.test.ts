import { Writable } from 'node:stream';
import request from 'supertest';
import { createLogger } from '../../src/platform/logging';
import { type Harness, oktaUser, patch, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';

// /status over HTTP: who gets in, what the cookie is, what a forged or cross-site request gets, and that the
// figures come from what the server measured (a Kit 429 and its retry).

const HOST = 'status.test';
const ORIGIN = `http://${HOST}`;

function login(h: Harness, token: string, headers: Record<string, string> = { Origin: ORIGIN }) {
  const r = request(h.service.app).post('/status/login').set('Host', HOST).type('form');
  for (const [k, v] of Object.entries(headers)) r.set(k, v);
  return r.send({ token });
}

function sessionCookie(res: request.Response): string {
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = setCookie.find((c) => c.startsWith('kscim_status='));
  if (!cookie) throw new Error('no session cookie');
  return cookie.split(';')[0];
}

describe('/status over HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers no data without a session: a redirect to the login form', async () => {
    for (const cookie of [undefined, 'kscim_status=garbage', 'kscim_status=eyJuIjoib2t0YSJ9.AAAA']) {
      const r = request(h.service.app).get('/status');
      if (cookie) r.set('Cookie', cookie);
      const res = await r;
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/status/login');
      expect(res.text).not.toMatch(/Kit calls|operations/);
    }
    const form = await request(h.service.app).get('/status/login');
    expect(form.status).toBe(200);
    expect(form.headers['content-type']).toMatch(/text\/html/);
    expect(form.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(form.text).toMatch(/<form class="login" method="post" action="\/status\/login">/);
  });

  it('exchanges a read-only token for an HttpOnly, SameSite=Strict cookie that opens the page', async () => {
    const res = await login(h, READONLY_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/status');
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'])[0];
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/status/);
    expect(setCookie).toMatch(/Max-Age=900/);
    expect(setCookie).not.toMatch(/Secure/);
    expect(setCookie).not.toContain(READONLY_TOKEN);
    const page = await request(h.service.app).get('/status').set('Cookie', sessionCookie(res));
    expect(page.status).toBe(200);
    expect(page.text).toContain('signed in as iga');
    expect(page.text).not.toContain(READONLY_TOKEN);
    // A real Kit account (the harness's key): no SANDBOX banner (test/http/startup.e2e.test.ts shows it).
    expect(page.text).not.toContain('SANDBOX');
  });

  it('refuses a cookie whose payload was changed (a read-only session made read-write)', async () => {
    const cookie = sessionCookie(await login(h, READONLY_TOKEN));
    const [body, mac] = cookie.slice('kscim_status='.length).split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, n: 'okta', r: 0 })).toString('base64url');
    const res = await request(h.service.app).get('/status').set('Cookie', `kscim_status=${forged}.${mac}`);
    expect(res.status).toBe(303);
  });

  it('refuses logins from another origin, or with no origin at all, without setting a cookie', async () => {
    const refused: Array<Record<string, string>> = [
      { Origin: 'http://evil.example' },
      {},
      { Origin: 'null' },
      { Referer: 'http://evil.example/x' },
    ];
    for (const headers of refused) {
      const res = await login(h, TOKEN, headers);
      expect(res.status).toBe(403);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const viaReferer = await login(h, TOKEN, { Referer: `${ORIGIN}/status/login` });
    expect(viaReferer.status).toBe(303);
    const logout = await request(h.service.app)
      .post('/status/logout')
      .set('Host', HOST)
      .set('Origin', 'http://evil.example');
    expect(logout.status).toBe(403);
  });

  it('answers bad form input with a plain 4xx, never a 500', async () => {
    const empty = await login(h, '');
    expect(empty.status).toBe(400);
    const huge = await login(h, 'x'.repeat(20_000));
    expect(huge.status).toBe(413);
    expect(huge.headers['content-type']).toMatch(/text\/plain/);
    const json = await request(h.service.app)
      .post('/status/login')
      .set('Host', HOST)
      .set('Origin', ORIGIN)
      .set('Content-Type', 'application/json')
      .send('{"token":');
    expect(json.status).toBe(400);
  });

  it('shows a Kit 429 and its retry, the operation it belonged to and the limiter', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser('limited@example.com'));
    h.sandbox.setFaults({ failNext: 1, failStatus: 429, endpoints: ['PUT /v4/subscribers/:id'] });
    const patched = await h.patch(`/scim/v2/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Limited' }],
    });
    expect(patched.status).toBe(200);
    h.sandbox.resetFaults();
    const page = await request(h.service.app)
      .get('/status')
      .set('Cookie', sessionCookie(await login(h, READONLY_TOKEN)));
    expect(page.text).toMatch(/<td class="num rate-limited">1<\/td>/);
    expect(page.text).toMatch(/<td class="num retries">1<\/td>/);
    expect(page.text).toMatch(new RegExp(`<td class="resource-id">${created.body.id}</td>`));
    expect(page.text).toMatch(/calls start ≥ \d+ ms apart/);
    expect(page.text).not.toContain('limited@example.com');
  });

  it('lists each operation once, failures with their SCIM error, deprovisions marked and counted', async () => {
    const user = await h.post('/scim/v2/Users', oktaUser('ops.list@example.com'));
    const id: string = user.body.id;
    const deactivate = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
    expect(deactivate.status).toBe(200);
    const refused = await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: true }));
    expect(refused.status).toBe(400);
    await h.post('/scim/v2/Users', oktaUser('ops.twice@example.com'));
    const clash = await h.post('/scim/v2/Users', oktaUser('ops.twice@example.com'));
    expect(clash.status).toBe(409);
    const other = await h.post('/scim/v2/Users', oktaUser('ops.gone@example.com'));
    expect((await h.del(`/scim/v2/Users/${other.body.id}`)).status).toBe(204);

    const page = await request(h.service.app)
      .get('/status')
      .set('Cookie', sessionCookie(await login(h, READONLY_TOKEN)));
    const rows = page.text.match(/<tr class="operation[^"]*">.*?<\/tr>/g) ?? [];
    const rowsOf = (resourceId: string) => rows.filter((r) => r.includes(`<td class="resource-id">${resourceId}</td>`));
    // The refused reactivation: one row, the PATCH with its id, its SCIM error, marked as the refusal.
    expect(rows.filter((r) => r.includes('reactivation refused'))).toHaveLength(1);
    expect(rows.some((r) => r.includes('<td>reactivationRejected</td>'))).toBe(false);
    const refusedRow = rowsOf(id).find((r) => r.includes('reactivation refused'))!;
    expect(refusedRow).toContain('<td>patch</td>');
    expect(refusedRow).toContain(`<code class="scim-type">${refused.body.scimType}</code>`);
    // The conflicting create: its scimType and detail, the address in it masked.
    const clashRow = rows.find((r) => r.includes('<code class="scim-type">uniqueness</code>'));
    expect(clashRow).toBeDefined();
    for (const address of ['ops.list@example.com', 'ops.twice@example.com']) expect(page.text).not.toContain(address);
    // The deactivation and the delete: marked as deprovisions, and counted.
    expect(rowsOf(id).filter((r) => r.includes('deprovisioned (deactivate)'))).toHaveLength(1);
    expect(rowsOf(other.body.id).filter((r) => r.includes('deprovisioned (delete)'))).toHaveLength(1);
    expect(page.text).toMatch(/<td class="num deprovisions">[2-9]<\/td>/);
    // The headings: provisioning counts are not refusals.
    const refusals = page.text.slice(page.text.indexOf('<section id="refusals">'));
    expect(refusals.slice(0, refusals.indexOf('</section>'))).not.toContain('provisioning operations');
    expect(page.text).toMatch(/<section id="provisioning"><h2>Provisioning since start<\/h2>/);
    // No Redis: the page says it shows this replica only.
    expect(page.text).toContain('this page shows this replica only');
    expect(page.text).not.toContain('class="tenant"');
  });
});

describe('/status access limits', () => {
  it('puts failed logins through the failure throttle, and lets the right token sign in meanwhile', async () => {
    const h = await startHarness();
    try {
      const answers: number[] = [];
      for (let i = 0; i < 8; i++) answers.push((await login(h, `wrong-token-${i}-0123456789abcdef0123`)).status);
      expect(answers.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(answers).toContain(429);
      // A wrong token is still refused, and told when to come back.
      const wrong = await login(h, 'wrong-token-again-0123456789abcdef0123');
      expect(wrong.status).toBe(429);
      expect(Number(wrong.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      // The right token signs in: failures of others at its address never lock a valid credential out.
      const right = await login(h, READONLY_TOKEN);
      expect(right.status).toBe(303);
      expect(right.headers['set-cookie']).toBeDefined();
      // One throttle for SCIM and /status: a wrong SCIM credential from this address is refused now as well,
      // the right one is served.
      expect((await h.get('/scim/v2/Users').set('Authorization', 'Bearer wrong-0123456789abcdef01234567')).status).toBe(
        429,
      );
      expect((await h.get('/scim/v2/Users')).status).toBe(200);
      const metrics = await h.service.metrics.registry.metrics();
      expect(metrics).toMatch(/scim_auth_failures_total\{reason="unknown_token"\} [5-8]/);
      expect(metrics).toMatch(/scim_auth_failures_total\{reason="throttled"\} [1-9]/);
    } finally {
      await h.close();
    }
  });

  it('marks the cookie Secure behind an https proxy', async () => {
    const h = await startHarness({ env: { TRUST_PROXY: '1' } });
    try {
      const res = await login(h, TOKEN, { Origin: `https://${HOST}`, 'X-Forwarded-Proto': 'https' });
      expect(res.status).toBe(303);
      expect(([] as string[]).concat(res.headers['set-cookie'])[0]).toMatch(/; Secure/);
    } finally {
      await h.close();
    }
  });

  it('never writes a presented token or the session cookie to the log', async () => {
    let logged = '';
    const out = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const h = await startHarness({ logger: createLogger({ level: 'trace', format: 'json' }, out) });
    try {
      const wrong = 'wrong-but-long-token-0123456789abcdef-XYZ';
      expect((await login(h, wrong)).status).toBe(401);
      const ok = await login(h, READONLY_TOKEN);
      const cookie = sessionCookie(ok);
      expect((await request(h.service.app).get('/status').set('Cookie', cookie)).status).toBe(200);
      expect(logged).toContain('/status/login');
      for (const secret of [wrong, READONLY_TOKEN, cookie.split('=')[1]]) expect(logged).not.toContain(secret);
    } finally {
      await h.close();
    }
  });

  it('is behind SCIM_IP_ALLOWLIST like the SCIM API', async () => {
    const h = await startHarness({ env: { SCIM_IP_ALLOWLIST: '10.0.0.0/8' } });
    try {
      expect((await request(h.service.app).get('/status/login')).status).toBe(403);
      expect((await request(h.service.app).get('/healthz')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
