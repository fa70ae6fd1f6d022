import express, { type RequestHandler } from 'express';
import { createAuthMiddleware } from './auth';
import type { ScimRouterDeps } from './app';
import { createScimRouter } from './app';
import type { Readiness } from '../platform/readiness';
import type { Metrics, TenantLabel } from '../platform/metrics';
import { ScimNotFound } from '../scim/errors';
import { requestScopeMiddleware } from '../platform/requestScope';
import { sendFailure } from './scimResponses';

// Everything one tenant serves (issue #18), relative to where the dispatcher mounts it: `/tenants/{id}`, or the
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

export interface TenantRouterDeps extends ScimRouterDeps {
  readiness: Readiness;
  metrics: Metrics;
  /** The tenant's label on the series; its /metrics shows only those. Empty: everything (the one tenant). */
  label: TenantLabel;
  /** Issue 15: security events (poll endpoint, JWKS); they authenticate their receivers themselves. */
  eventRoutes?: RequestHandler;
  /** Issue #19: the tenant's status page, behind the IP allow-list with its own sign-in. */
  operatorPages?: express.Router;
}

/**
 * The events routes check their receivers' tokens themselves, and would answer another tenant's receiver (or
 * SCIM client) 401 like a stranger: told apart first, it gets the 404 every other path of this tenant gives it.
 */
function otherTenantsReceivers(deps: TenantRouterDeps): RequestHandler {
  return (req, res, next) => {
    const authorization = req.headers.authorization;
    if (!authorization || !deps.otherTenant || !req.path.startsWith('/scim/v2/Events')) return next();
    deps.otherTenant(authorization).then(
      (elsewhere) => {
        if (!elsewhere) return next();
        deps.onAuthFailure?.('other_tenant');
        sendFailure(res, new ScimNotFound('No such endpoint.'));
      },
      () => next(),
    );
  };
}

export function createTenantRouter(deps: TenantRouterDeps): express.Router {
  const router = express.Router();
  router.get('/readyz', deps.readiness.readinessHandler());
  if (deps.eventRoutes) router.use(...deps.allowlist, otherTenantsReceivers(deps), deps.eventRoutes);
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
    deps.metrics.handler(() => (deps.label.tenant === undefined ? undefined : deps.label)),
  );
  router.use('/scim/v2', createScimRouter(deps));
  if (deps.operatorPages) router.use('/status', ...deps.allowlist, deps.operatorPages);
  return router;
}
