import http from 'node:http';
import net from 'node:net';
import express from 'express';
import pino from 'pino';
import { LimiterRegistry } from '../../src/app/limiterRegistry';
import { Tenant } from '../../src/app/tenant';
import { loadConfig } from '../../src/config/environment';
import { FailureThrottle } from '../../src/platform/failureThrottle';
import { Metrics } from '../../src/platform/metrics';
import { ManualClock, settle } from '../support/clock';
import { expectScimFailure } from '../support/scim';

// A tenant's lifecycle without Kit: built (not ready, SCIM answers 503 until the start-up checks pass), serving
// (requests counted while inside it), closed (no new request gets in, those inside may finish until the
// deadline, the limiter of its credential is given back). The start-up checks against Kit, and the move to
// ready, need the sandbox: they are covered end to end (test/http/startup.e2e.test.ts).

const TOKEN = 'okta-tenant-unit-token-0123456789abcdef';

function build(opts: { shutdownTimeoutMs?: number } = {}) {
  const clock = new ManualClock();
  const config = loadConfig({
    KIT_API_URL: 'https://kit.invalid',
    KIT_API_KEY: 'tenant-unit-key',
    SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
    ...(opts.shutdownTimeoutMs !== undefined && { SHUTDOWN_TIMEOUT_MS: String(opts.shutdownTimeoutMs) }),
  });
  const logger = pino({ level: 'silent' });
  const limiters = new LimiterRegistry({ clock, logger });
  // The process's, shared by its tenants; its housekeeping runs on the same clock.
  const throttle = new FailureThrottle({ clock });
  const tenant = new Tenant({
    id: 'default',
    config,
    logger,
    metrics: new Metrics({ collectDefaults: false }),
    clock,
    limiters,
    failureThrottle: throttle,
    allowlist: [],
    labelled: false,
    otherTenant: async () => false,
  });
  return { tenant, clock, limiters, config };
}

/** A request through the tenant, on a socket that never connects; it ends when the test says. */
function enter(tenant: Tenant) {
  const app = express();
  app.use(tenant.handle);
  const passedOn = jest.fn();
  app.use((_req, res) => {
    passedOn();
    res.status(404).end();
  });
  const req = new http.IncomingMessage(new net.Socket());
  Object.assign(req, { method: 'GET', url: '/ServiceProviderConfig', headers: {} });
  const res = new http.ServerResponse(req) as http.ServerResponse & { locals: Record<string, unknown> };
  app(req, res);
  return { res, passedOn, end: () => res.emit('close') };
}

describe('Tenant lifecycle', () => {
  it('is built not ready, and answers SCIM with 503 until its start-up checks pass', async () => {
    const { tenant, limiters } = build();
    expect(tenant.ready).toBe(false);
    const err = await expectScimFailure(() => tenant.scim(), 503);
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
    // Its credential's limiter is held from the start.
    expect(limiters.size).toBe(1);
    await tenant.close();
  });

  it('closes at once when nothing is in flight, gives its limiter back and takes no new request', async () => {
    const { tenant, limiters } = build();
    const closing = tenant.close();
    expect(tenant.close()).toBe(closing);
    await closing;

    expect(limiters.size).toBe(0);
    expect(tenant.readiness.report().shuttingDown).toBe(true);
    const late = enter(tenant);
    expect(late.passedOn).toHaveBeenCalledTimes(1);
    expect(late.res.locals.tenant).toBeUndefined();
  });

  it('waits for the requests inside it before closing', async () => {
    const { tenant, clock, limiters } = build({ shutdownTimeoutMs: 10_000 });
    const inside = enter(tenant);
    await settle();
    expect(inside.res.locals.tenant).toBe('default');

    let closed = false;
    void tenant.close().then(() => (closed = true));
    await clock.advance(5_000);
    expect(closed).toBe(false);
    expect(limiters.size).toBe(1);
    // Arriving while it closes: passed on, not served.
    expect(enter(tenant).passedOn).toHaveBeenCalledTimes(1);

    inside.end();
    await settle();
    expect(closed).toBe(true);
    expect(limiters.size).toBe(0);
  });

  it('closes anyway once the deadline passes with a request still inside', async () => {
    const { tenant, clock, limiters } = build();
    enter(tenant);
    await settle();
    let closed = false;
    void tenant.close(3_000).then(() => (closed = true));
    await clock.advance(2_999);
    expect(closed).toBe(false);
    await clock.advance(1);
    await settle();
    expect(closed).toBe(true);
    expect(limiters.size).toBe(0);
  });
});
