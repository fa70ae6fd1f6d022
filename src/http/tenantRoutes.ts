import express, { type RequestHandler } from 'express';
import { createAuthMiddleware, tooManyFailures } from './auth';
import { createScimRouter, type ScimRouterDeps } from './scimRouter';
import type { Readiness } from '../platform/readiness';
import type { Metrics, TenantLabel } from '../platform/metrics';
import { ScimNotFound } from '../scim/errors';
import { requestScopeMiddleware } from './requestScopeMiddleware';
import { sendFailure } from './scimResponses';
import { readinessHandler } from './health';
import { metricsEndpoint } from './httpMetrics';

// Everything one tenant serves, relative to where the dispatcher mounts it: `/tenants/{id}`, or the
// root when it is the only tenant. Only the tenant's own credentials open any of it.
//
//   GET  /readyz          the tenant's readiness (no credential, like the process's /readyz)
//   GET  /metrics         the tenant's series only (its SCIM credential)
//   ...  /scim/v2/Events  its security events (their receivers' tokens)
//   ...  /scim/v2/...     its SCIM API
//   ...  /status          its operator page (sign-in with its tokens)

/** A tenant as the dispatcher sees it: an id and a handler that counts the requests it lets in. */
export interface TenantEndpoint {
  readonly id: string;
  handle: RequestHandler;
  /** The tenant's router, for route introspection only (requests go through `handle`). */
  readonly routes?: { stack: unknown[] };
}

/** A tenant's security-event routes, and how to tell its receivers' tokens so refusals can be throttled. */
export interface TenantEventRoutes {
  /** Where receivers poll (POST), so exactly the requests the routes authenticate pass the gate. */
  pollPath: string;
  routes: RequestHandler;
  /** Whether `authorization` (the header as sent) carries one of the tenant's receiver tokens. */
  isReceiver(authorization: string | undefined): boolean;
}

export interface TenantRouterDeps extends ScimRouterDeps {
  readiness: Readiness;
  metrics: Metrics;
  /** The tenant's label on the series; its /metrics shows only those. Empty: everything (the one tenant). */
  label: TenantLabel;
  /** Security events (poll endpoint, JWKS); they authenticate their receivers themselves. */
  events?: TenantEventRoutes;
  /** The tenant's status page, behind the IP allow-list with its own sign-in. */
  operatorPages?: express.Router;
}

/**
 * The events routes check their receivers' tokens themselves; in front of them, a receiver token is put through
 * the failure throttle with the rules of every credential (auth/failureThrottle.ts): a valid one passes, an
 * invalid one counts and, over the budget, is answered 429. Another tenant's receiver (or SCIM client) gets the
 * 404 every other path of this tenant gives it, not the 401 of a stranger.
 */
function receiverGate(deps: TenantRouterDeps, events: TenantEventRoutes): RequestHandler {
  return (req, res, next) => {
    const authorization = req.headers.authorization;
    // As on the SCIM API, only a presented bearer credential can be a guess.
    if (!/^Bearer\s/i.test(authorization ?? '')) return next();
    const valid = events.isReceiver(authorization);
    const verdict = deps.failureThrottle?.checked(req.ip ?? req.socket.remoteAddress ?? 'unknown', valid);
    if (verdict?.refused) {
      deps.onAuthFailure('throttled');
      sendFailure(res, tooManyFailures(verdict.retryAfterMs));
      return;
    }
    if (valid) return next();
    const elsewhere = deps.otherTenant?.(authorization!).catch(() => false) ?? Promise.resolve(false);
    void elsewhere.then((isElsewhere) => {
      deps.onAuthFailure(isElsewhere ? 'other_tenant' : 'unknown_token');
      // A stranger's token goes on to the events routes, which answer it in RFC 8935's words.
      if (!isElsewhere) return next();
      sendFailure(res, new ScimNotFound('No such endpoint.'));
    });
  };
}

export function createTenantRouter(deps: TenantRouterDeps): express.Router {
  const router = express.Router();
  router.get(
    '/readyz',
    readinessHandler(() => deps.readiness.report()),
  );
  if (deps.events) {
    router.post(deps.events.pollPath, ...deps.allowlist, receiverGate(deps, deps.events));
    router.use(...deps.allowlist, deps.events.routes);
  }
  const authenticate = createAuthMiddleware(deps.authenticator, {
    onFailure: deps.onAuthFailure,
    failureThrottle: deps.failureThrottle,
    otherTenant: deps.otherTenant,
  });
  router.get(
    '/metrics',
    ...deps.allowlist,
    requestScopeMiddleware(),
    authenticate,
    // A tenant without a label is the only one: its figures are all there is.
    metricsEndpoint(deps.metrics, () => (deps.label.tenant === undefined ? undefined : deps.label)),
  );
  router.use('/scim/v2', createScimRouter(deps));
  if (deps.operatorPages) router.use('/status', ...deps.allowlist, deps.operatorPages);
  return router;
}
