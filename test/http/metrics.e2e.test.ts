import express from 'express';
import request from 'supertest';
import { Metrics } from '../../src/platform/metrics';
import {
  httpMetricsMiddleware,
  methodLabel,
  metricsEndpoint,
  routeLabel,
  UNMATCHED_ROUTE,
} from '../../src/http/httpMetrics';

function scimApp(metrics: Metrics) {
  const app = express();
  app.use(httpMetricsMiddleware(metrics));
  app.get('/metrics', metricsEndpoint(metrics));
  const scim = express.Router();
  scim.get('/Users/:id', (_req, res) => {
    res.json({ ok: true });
  });
  scim.get('/Users', (_req, res) => {
    res.json({ ok: true });
  });
  scim.delete('/Groups/:id', async (_req, res) => {
    await new Promise((r) => setTimeout(r, 5));
    res.status(204).end();
  });
  scim.patch('/Users/:id', async () => {
    throw new Error('boom');
  });
  scim.get(/^\/Custom\/(\d+)$/, (_req, res) => {
    res.json({});
  });
  scim.get('/Named/:anything', (_req, res) => {
    res.locals.route = '/scim/v2/Named/{anything}';
    res.json({});
  });
  app.use('/scim/v2', scim);
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: true });
  });
  return app;
}

describe('Metrics', () => {
  it('keeps a registry per instance, so many apps can coexist', async () => {
    const a = new Metrics({ collectDefaults: false });
    const b = new Metrics({ collectDefaults: false });
    a.deprovisions.inc({ kind: 'delete' });
    expect(await a.registry.metrics()).toContain('scim_deprovisions_total{kind="delete"} 1');
    expect(await b.registry.metrics()).not.toContain('scim_deprovisions_total{kind="delete"}');
  });

  it('serves the text format with route patterns, never raw ids', async () => {
    const metrics = new Metrics({ collectDefaults: false });
    const app = scimApp(metrics);
    await request(app).get('/scim/v2/Users/12345');
    await request(app).get('/scim/v2/Users/67890');
    await request(app).get('/scim/v2/Users?filter=userName%20eq%20%22jane%40example.com%22');
    await request(app).delete('/scim/v2/Groups/555');
    await request(app).get('/scim/v2/nope/999');

    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users/:id",status="200"} 2');
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users",status="200"} 1');
    expect(text).toContain('scim_http_requests_total{method="DELETE",route="/scim/v2/Groups/:id",status="204"} 1');
    expect(text).toContain(`scim_http_requests_total{method="GET",route="${UNMATCHED_ROUTE}",status="404"} 1`);
    expect(text).toMatch(/scim_http_request_duration_seconds_count\{method="GET",route="\/scim\/v2\/Users\/:id"\} 2/);
    // Only labels can carry a raw id; sample values (e.g. a duration sum 0.00182709999…) may contain any digits.
    const labels = text.match(/\{[^}]*\}/g) ?? [];
    expect(labels.length).toBeGreaterThan(0);
    for (const raw of ['12345', '67890', '555', '999', 'jane']) expect(labels.join('\n')).not.toContain(raw);
  });

  it('labels every letter-case spelling of a route with its pattern as the code writes it', async () => {
    const metrics = new Metrics({ collectDefaults: false });
    const app = scimApp(metrics);
    expect((await request(app).get('/SCIM/V2/Users/1')).status).toBe(200);
    expect((await request(app).get('/sCiM/v2/uSeRs/2')).status).toBe(200);
    expect((await request(app).get('/scim/V2/USERS')).status).toBe(200);
    expect((await request(app).patch('/Scim/v2/users/3')).status).toBe(500);
    const text = await metrics.registry.metrics();
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users/:id",status="200"} 2');
    expect(text).toContain('scim_http_requests_total{method="GET",route="/scim/v2/Users",status="200"} 1');
    expect(text).toContain('scim_http_requests_total{method="PATCH",route="/scim/v2/Users/:id",status="500"} 1');
    const labels = (text.match(/\{[^}]*\}/g) ?? []).join('\n');
    for (const spelling of ['SCIM', 'sCiM', 'Scim', 'V2', 'uSeRs', 'USERS', 'users'])
      expect(labels).not.toContain(spelling);
  });

  it('labels a route whose handler failed into the error handler by its pattern', async () => {
    const metrics = new Metrics({ collectDefaults: false });
    const app = scimApp(metrics);
    expect((await request(app).patch('/scim/v2/Users/42')).status).toBe(500);
    const text = await metrics.registry.metrics();
    expect(text).toContain('scim_http_requests_total{method="PATCH",route="/scim/v2/Users/:id",status="500"} 1');
    expect(text).not.toContain('/42');
  });

  it('honours an explicit res.locals.route and labels regular-expression routes by their source', async () => {
    const metrics = new Metrics({ collectDefaults: false });
    const app = scimApp(metrics);
    await request(app).get('/scim/v2/Named/secret-value');
    await request(app).get('/scim/v2/Custom/31337');
    const text = await metrics.registry.metrics();
    expect(text).toContain('route="/scim/v2/Named/{anything}"');
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain('31337');
  });

  it('records Kit calls: counts, durations, 429s and retries', async () => {
    const metrics = new Metrics({ collectDefaults: false });
    const endpoint = 'GET /v4/subscribers/:id';
    metrics.recordKitCall({ method: 'GET', endpoint, status: 429, durationMs: 120, attempt: 1 });
    metrics.recordKitCall({ method: 'GET', endpoint, status: 200, durationMs: 80, attempt: 2 });
    metrics.recordKitCall({ method: 'GET', endpoint, status: 'error', durationMs: 15000, attempt: 3 });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`kit_api_calls_total{endpoint="${endpoint}",status="429"} 1`);
    expect(text).toContain(`kit_api_calls_total{endpoint="${endpoint}",status="200"} 1`);
    expect(text).toContain(`kit_api_calls_total{endpoint="${endpoint}",status="error"} 1`);
    expect(text).toContain('kit_api_rate_limited_total 1');
    expect(text).toContain(`kit_api_retries_total{endpoint="${endpoint}"} 2`);
    expect(text).toContain(`kit_api_call_duration_seconds_sum{endpoint="${endpoint}"} 15.2`);
    expect(text).toContain(`kit_api_call_duration_seconds_bucket{le="0.1",endpoint="${endpoint}"} 1`);
  });

  it('exposes the operational series and, by default, process metrics', async () => {
    const metrics = new Metrics();
    metrics.limiterQueueDepth.set({ priority: 'interactive' }, 3);
    metrics.limiterWait.observe({ priority: 'background' }, 2);
    metrics.reactivationRejected.inc({ operation: 'patch' });
    metrics.authFailures.inc({ reason: 'unknown_token' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('kit_limiter_queue_depth{priority="interactive"} 3');
    expect(text).toContain('kit_limiter_wait_seconds_count{priority="background"} 1');
    expect(text).toContain('scim_reactivation_rejected_total{operation="patch"} 1');
    expect(text).toContain('scim_auth_failures_total{reason="unknown_token"} 1');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('routeLabel', () => {
  it('falls back to the unmatched label when no route matched', () => {
    const req = { baseUrl: '/scim/v2' } as express.Request;
    const res = { locals: {} } as express.Response;
    expect(routeLabel(req, res)).toBe(UNMATCHED_ROUTE);
  });

  it("takes the mount path from the code, never the client's spelling, with or without a tenant", () => {
    const res = () => ({ locals: {} }) as express.Response;
    const matched = (baseUrl: string, path: string, originalUrl: string) =>
      ({ baseUrl, route: { path }, originalUrl }) as express.Request;
    expect(routeLabel(matched('/SCIM/v2', '/Users/:id', '/SCIM/v2/Users/1'), res())).toBe('/scim/v2/Users/:id');
    expect(routeLabel(matched('/TeNaNtS/Acme/ScIm/V2', '/Schemas', '/TeNaNtS/Acme/ScIm/V2/Schemas'), res())).toBe(
      '/scim/v2/Schemas',
    );
    expect(routeLabel(matched('/Tenants/a', '/metrics', '/Tenants/a/METRICS'), res())).toBe('/metrics');
    expect(routeLabel(matched('/STATUS', '/login', '/STATUS/login'), res())).toBe('/status/login');
    // A mount path the code does not know (a library's own router): the fixed set of intended routes decides.
    expect(routeLabel(matched('/scim/v2/USERS', '/:id', '/scim/v2/USERS/7'), res())).toBe('/scim/v2/Users/:id');
    expect(routeLabel(matched('/SCIM/v2/Whatever', '/:id', '/SCIM/v2/Whatever/7'), res())).toBe(UNMATCHED_ROUTE);
  });

  it('labels a request refused before routing with its intended route in any letter case, tenant prefix included', () => {
    const refused = (originalUrl: string) => ({ baseUrl: '', originalUrl }) as express.Request;
    const res = () => ({ locals: {} }) as express.Response;
    expect(routeLabel(refused('/TENANTS/a/SCIM/V2/USERS/.SEARCH'), res())).toBe('/scim/v2/Users/.search');
    expect(routeLabel(refused('/Metrics'), res())).toBe('/metrics');
    expect(routeLabel(refused('/scim/v2/%55sers'), res())).toBe(UNMATCHED_ROUTE);
  });
});

describe('methodLabel', () => {
  it('keeps the seven methods a SCIM server is asked for and counts any other as OTHER', () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      expect(methodLabel(method)).toBe(method);
    for (const method of ['PROPFIND', 'MKCOL', 'TRACE', 'CONNECT', 'SEARCH']) expect(methodLabel(method)).toBe('OTHER');
  });
});
