import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { ScimNotFound } from '../scim/errors';
import { type AuthFailureReason, type Authenticator, createAuthMiddleware } from './auth';
import type { FailureThrottle } from '../platform/failureThrottle';
import type { TenantEndpoint } from './tenantRoutes';
import { type IpAllowlist, ipAllowlistMiddleware } from './ipAllowlist';
import { createRequestLogging } from './requestLogging';
import { labels, type Metrics } from '../platform/metrics';
import { PrototypeGuard } from './prototypeGuard';
import { requestScopeMiddleware } from './requestScopeMiddleware';
import { sendFailure } from './scimResponses';
import { httpMetricsMiddleware, metricsEndpoint } from './httpMetrics';
import { NO_SUCH_ENDPOINT } from './scimRouter';

/** What the process serves around its tenants: health, the operator's /metrics, and the dispatch to tenants. */
export interface AppDeps {
  /** The tenants at the time of a request (a reload swaps them). */
  tenants: TenantDirectoryView;
  metrics: Metrics;
  logger: Logger;
  failureThrottle?: FailureThrottle;
  /** SCIM_IP_ALLOWLIST: callers elsewhere are refused before authentication. */
  ipAllowlist?: IpAllowlist;
  trustProxy?: string | number | boolean;
  /** Who may read every tenant's series at /metrics: the operator tokens. */
  operatorAuthenticator: () => Authenticator;
  /** GET /readyz: the process's checks and each tenant's. */
  readiness: RequestHandler;
  liveness: RequestHandler;
  /** Routes that take no SCIM credential and must not reach the access log (Kit's webhook receiver). */
  unloggedRoutes?: express.Router[];
  /** `/status` when several tenants are served: the page that lists the tenants a sign-in may open. */
  statusChooser?: RequestHandler;
}

/** The tenants as the HTTP layer sees them. */
export interface TenantDirectoryView {
  find(id: string): TenantEndpoint | undefined;
  /** The tenant `/scim/v2` and `/status` reach: the only one, when exactly one is configured. */
  only(): TenantEndpoint | undefined;
}

/** Paths a single tenant also serves at the root, so a one-account deployment keeps its plain URLs. */
const SINGLE_TENANT_PATHS = /^\/(scim\/v2|status)(\/|$)/i;
const STATUS_PATH = /^\/status(\/|$)/i;

/**
 * On every response, errors and refusals included: SCIM bodies carry personal data (names, emails) that no
 * shared cache or browser should keep, and a browser that opens one must not sniff it into something it runs.
 */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/** The IP allow-list as middleware (none without SCIM_IP_ALLOWLIST), counting its refusals. */
export function allowlistHandlers(ipAllowlist: IpAllowlist | undefined, refused: () => void): RequestHandler[] {
  return ipAllowlist ? [ipAllowlistMiddleware(ipAllowlist, refused)] : [];
}

/**
 * `/scim/v2/...` and `/status` reach the only tenant, when there is exactly one. The handler also shows that
 * tenant's routes as its `stack`, as a mounted express Router does: express never reads it to serve a request,
 * but route introspection (the OpenAPI drift check) then sees the routes the root paths lead to.
 */
function singleTenantDispatch(tenants: TenantDirectoryView, statusChooser?: RequestHandler): RequestHandler {
  const dispatch = (req: Request, res: Response, next: NextFunction) => {
    if (!SINGLE_TENANT_PATHS.test(req.path)) return next();
    const only = tenants.only();
    if (!only && statusChooser && STATUS_PATH.test(req.path)) return statusChooser(req, res, next);
    if (!only) {
      throw new ScimNotFound(
        'No such endpoint. This server serves several tenants: the SCIM API of each is under /tenants/{id}/scim/v2.',
      );
    }
    only.handle(req, res, next);
  };
  Object.defineProperty(dispatch, 'stack', { get: () => tenants.only()?.routes?.stack ?? [] });
  return dispatch;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // ETags are resource versions (etag.ts), never express's digest of whatever body went out (which would
  // also answer If-None-Match on lists, errors and discovery by itself).
  app.set('etag', false);

  // Behind a load balancer the failure throttle and the IP allow-list must see the client, not the proxy
  // (TRUST_PROXY): req.ip is then taken from X-Forwarded-For, as far as the trusted hops go.
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  // First, so its 'close' listener undoes a prototype write before the metrics and logging listeners run.
  app.use(
    new PrototypeGuard().middleware((writes, req) =>
      deps.logger.error(
        { writes, requestId: (req as { id?: unknown }).id },
        'a built-in prototype was written while serving a request; undone',
      ),
    ),
  );
  app.use(securityHeaders);
  app.use(httpMetricsMiddleware(deps.metrics));
  for (const router of deps.unloggedRoutes ?? []) app.use(router);
  app.use(createRequestLogging(deps.logger));
  app.get('/healthz', deps.liveness);
  app.get('/readyz', deps.readiness);

  const onFailure = (reason: AuthFailureReason) => deps.metrics.authFailures.inc(labels({ reason }));
  // Health stays open (load balancers probe it); everything that needs a credential is behind the allow-list.
  const allowlist = allowlistHandlers(deps.ipAllowlist, () => onFailure('ip_not_allowed'));
  const authenticateOperator: RequestHandler = (req, res, next) =>
    createAuthMiddleware(deps.operatorAuthenticator(), { onFailure, failureThrottle: deps.failureThrottle })(
      req,
      res,
      next,
    );
  app.get('/metrics', ...allowlist, requestScopeMiddleware(), authenticateOperator, metricsEndpoint(deps.metrics));

  // /tenants/{id}/... is the tenant's; a tenant that does not exist is a 404 like any unknown path. Routing
  // ignores the letter case of the path's literal parts (`/TENANTS/a` is `/tenants/a`); the id is a value,
  // compared exactly like a resource id.
  app.use('/tenants/:tenant', (req: Request, res: Response, next: NextFunction) => {
    const tenant = deps.tenants.find(String(req.params.tenant));
    if (!tenant) throw new ScimNotFound(NO_SUCH_ENDPOINT);
    tenant.handle(req, res, next);
  });
  // The root paths of a server with one tenant (SINGLE_TENANT_PATHS).
  app.use(singleTenantDispatch(deps.tenants, deps.statusChooser));

  app.use(() => {
    throw new ScimNotFound('No such endpoint. The SCIM API is under /scim/v2.');
  });

  // Everything thrown above (typed errors, body-parser failures, anything that escaped a route) leaves here,
  // through the one translation table: always a SCIM error, never express's HTML.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    sendFailure(res, err, deps.logger);
  });
  return app;
}
