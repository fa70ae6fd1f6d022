import net from 'node:net';
import request from 'supertest';
import { createScimHttpServer } from '../../src/http/httpServer';
import { type Harness, oktaUser, startHarness } from '../support/harness';
import { expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// What every response at the HTTP edge carries, who may reach the SCIM API at all, and how refusals are
// labelled in metrics.

function expectSecurityHeaders(res: request.Response): void {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('security headers on every response', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_MAX_BODY_BYTES: '2048' } });
  });
  afterAll(() => h.close());

  it('on successes, discovery and writes', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`headers.${unique()}@example.com`));
    expect(created.status).toBe(201);
    expectSecurityHeaders(created);
    expectSecurityHeaders(await h.get(`/scim/v2/Users/${created.body.id}`));
    expectSecurityHeaders(await h.get('/scim/v2/Users?count=1'));
    expectSecurityHeaders(await h.get('/scim/v2/ServiceProviderConfig'));
    expectSecurityHeaders(await h.get('/scim/v2/Schemas'));
    const deleted = await h.del(`/scim/v2/Users/${created.body.id}`);
    expect(deleted.status).toBe(204);
    expectSecurityHeaders(deleted);
  });

  it('on errors and refusals: 401, 403, 404, 400, 413', async () => {
    const app = h.service.app;
    const unauthenticated = await request(app).get('/scim/v2/Users');
    expectScimError(unauthenticated, 401);
    expectSecurityHeaders(unauthenticated);
    const wrong = await request(app).get('/scim/v2/Users').set('Authorization', 'Bearer wrong-token');
    expectScimError(wrong, 401);
    expectSecurityHeaders(wrong);
    const metrics = await request(app).get('/metrics');
    expectScimError(metrics, 401);
    expectSecurityHeaders(metrics);
    for (const res of [
      await h.get('/scim/v2/Users/999999999'),
      await h.get('/nope'),
      await h.post('/scim/v2/Users').set('Content-Type', 'application/scim+json').send('{"userName": '),
      await h.post('/scim/v2/Users', oktaUser('big@example.com', { displayName: 'x'.repeat(5000) })),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expectSecurityHeaders(res);
    }
  });

  it('on answers written below express (headers over 16 KB)', async () => {
    const http = createScimHttpServer(h.service.app);
    await new Promise<void>((resolve) => http.server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = http.server.address() as net.AddressInfo;
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(20_000)}\r\n\r\n`);
        });
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 431/);
      expect(raw).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
      expect(raw).toMatch(/\r\nCache-Control: no-store\r\n/);
    } finally {
      http.drain();
      await http.closed(1000);
    }
  });
});

describe('SCIM_IP_ALLOWLIST', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('refuses callers outside the list with 403 before their credential is looked at', async () => {
    h = await startHarness({ env: { SCIM_IP_ALLOWLIST: '203.0.113.0/24, 2001:db8::/32' } });
    const app = h.service.app;
    for (const res of [
      await h.get('/scim/v2/Users'),
      await request(app).get('/scim/v2/Users').set('Authorization', 'Bearer wrong-token'),
      await request(app).get('/scim/v2/Users'),
      await h.get('/metrics'),
    ]) {
      expectScimError(res, 403);
      expect(res.body.detail).toMatch(/SCIM_IP_ALLOWLIST/);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expectSecurityHeaders(res);
    }
    // Refused before authentication: no credential check was counted, only the address refusal.
    const metrics = await h.service.metrics.registry.metrics();
    expect(metrics).toContain('scim_auth_failures_total{reason="ip_not_allowed"} 4');
    expect(metrics).not.toContain('reason="unknown_token"');
    expect(metrics).not.toContain('reason="missing"');
    // Health stays reachable for load balancers.
    expect((await request(app).get('/healthz')).status).toBe(200);
  });

  it('admits callers inside an IPv4 or IPv6 range, as express sees them (req.ip)', async () => {
    // supertest connects over loopback: ::ffff:127.0.0.1 or 127.0.0.1, both inside 127.0.0.0/8.
    h = await startHarness({ env: { SCIM_IP_ALLOWLIST: '2001:db8::/32,127.0.0.0/8' } });
    expect((await h.get('/scim/v2/Users?count=1')).status).toBe(200);
  });

  it('uses the forwarded client address only when trust proxy says the hop may be believed', async () => {
    h = await startHarness({ env: { SCIM_IP_ALLOWLIST: '203.0.113.0/24', TRUST_PROXY: 'loopback' } });
    const viaProxy = await h.get('/scim/v2/Users?count=1').set('X-Forwarded-For', '203.0.113.50');
    expect(viaProxy.status).toBe(200);
    expectScimError(await h.get('/scim/v2/Users?count=1').set('X-Forwarded-For', '198.51.100.1'), 403);
    await h.close();
    // Without trust proxy, X-Forwarded-For is anyone's to write and is ignored.
    h = await startHarness({ env: { SCIM_IP_ALLOWLIST: '203.0.113.0/24' } });
    expectScimError(await h.get('/scim/v2/Users?count=1').set('X-Forwarded-For', '203.0.113.50'), 403);
  });
});

describe('metrics label refusals with the route they were aimed at', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('counts a 401 under its route pattern, from a fixed set, never the raw path', async () => {
    const app = h.service.app;
    await request(app).get('/scim/v2/Users/12345').set('Authorization', 'Bearer wrong-token');
    await request(app).patch('/scim/v2/Groups/67890');
    await request(app).post('/scim/v2/Users/.search');
    await request(app).get('/scim/v2/Schemas');
    await request(app).get('/scim/v2/users');
    await request(app).get('/scim/v2/NoSuchThing/999');
    // Read from the registry: after six failures this client's own /metrics scrape would be throttled.
    const text = await h.service.metrics.registry.metrics();
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users/:id",status="401"} 1');
    expect(text).toContain('scim_http_requests_total{method="PATCH",route="/scim/v2/Groups/:id",status="401"} 1');
    expect(text).toContain('scim_http_requests_total{method="POST",route="/scim/v2/Users/.search",status="401"} 1');
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Schemas",status="401"} 1');
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users",status="401"} 1');
    expect(text).toContain('scim_http_requests_total{method="GET",route="unmatched",status="401"} 1');
    const labels = (text.match(/\{[^}]*\}/g) ?? []).join('\n');
    for (const raw of ['12345', '67890', '999', 'NoSuchThing']) expect(labels).not.toContain(raw);
  });
});
