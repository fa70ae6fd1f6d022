import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { labels, type Metrics, seriesOfTenant, type TenantLabel } from '../platform/metrics';

// The HTTP side of the metrics: each request counted under its route's pattern, and GET /metrics.

/** The route label for requests no route matched (404s, and refusals from middleware before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every request once its response is done (or the client went away: status "aborted").
 * Mount it first so refusals by later middleware are counted too.
 */
export function httpMetricsMiddleware(metrics: Metrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    trackMatchedRoute(req, res);
    res.once('close', () => {
      const route = routeLabel(req, res);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      // The tenant dispatcher (tenantRoutes.ts) names the tenant a request reached, if any.
      const scope: TenantLabel = res.locals.tenantLabel ?? {};
      try {
        const method = methodLabel(req.method);
        metrics.httpRequests.inc(labels({ ...scope, method, route, status }));
        metrics.httpDuration.observe(labels({ ...scope, method, route }), seconds);
      } catch {
        // An exception thrown from a 'close' listener is uncaught and ends the process: a lost sample is the
        // lesser harm. (prom-client refuses label sets with unknown keys; see labels() below.)
      }
    });
    next();
  };
}

/**
 * `GET /metrics` in the Prometheus text format: every series, or with `only`, the series labelled with that
 * tenant (a tenant's credential sees its own figures, never another tenant's nor the process's).
 */
export function metricsEndpoint(
  metrics: Metrics,
  only?: (req: Request, res: Response) => TenantLabel | undefined,
): RequestHandler {
  return async (req: Request, res: Response) => {
    const all = await metrics.registry.metrics();
    const tenant = only?.(req, res)?.tenant;
    const body = tenant === undefined ? all : seriesOfTenant(all, tenant);
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  };
}

/**
 * The router assigns `req.route` when a route matches, while `req.baseUrl` is still the mount path. By the
 * time the response closes, a handler that failed into an app-level error handler has left its router and
 * `req.baseUrl` is back to "", so the pattern is captured at assignment instead. Idempotent; the metrics and
 * request-logging middleware both call it.
 */
export function trackMatchedRoute(req: Request, res: Response): void {
  if (res.locals.matchedRouteTracked) return;
  res.locals.matchedRouteTracked = true;
  let route: Request['route'] = req.route;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: Request['route']) => {
      route = value;
      if (value) res.locals.matchedRoute = matchedPattern(req.baseUrl ?? '', value.path);
    },
  });
}

/**
 * Where the app mounts its routers, as written in the code (a tenant's own `/tenants/{id}` prefix aside).
 * Routing ignores letter case, so `req.baseUrl` is the mount path as the client spelled it (`/SCIM/V2`):
 * it is only ever used to pick one of these, never as a label itself.
 */
const MOUNT_PATHS = ['', '/scim/v2', '/status'];
const MOUNT_BY_FOLDED_PATH = new Map(MOUNT_PATHS.map((mount) => [mount.toLowerCase(), mount]));

/**
 * The matched pattern under its mount path as the code writes it (`/scim/v2/Users/:id` whatever the client's
 * spelling); undefined for a mount path not in MOUNT_PATHS (a third-party router's own), which then falls
 * back to the fixed set of INTENDED_ROUTES. The route's own path is the code's, never the client's.
 */
function matchedPattern(baseUrl: string, path: unknown): string | undefined {
  const mount = MOUNT_BY_FOLDED_PATH.get(baseUrl.replace(TENANT_PREFIX, '').toLowerCase());
  if (mount === undefined) return undefined;
  const pattern = Array.isArray(path) ? path.map(String).join('|') : String(path);
  if (!mount) return pattern;
  return pattern === '/' ? mount : `${mount}${pattern}`;
}

/**
 * The routes a request can be aimed at, as the patterns express reports when they match. A request refused
 * before routing (401, 403 by the IP allow-list, 429 by the failure throttle) never reaches its route, but is
 * still labelled with the one it was aimed at: a credential-stuffing run against /Users must show up there,
 * not among stray URLs. A fixed set, so a client's paths can never grow the label's cardinality; matched
 * regardless of letter case, as routing is.
 */
const INTENDED_ROUTES: Array<[RegExp, string]> = [
  ...['Users', 'Groups'].flatMap((type): Array<[RegExp, string]> => [
    [new RegExp(`^/scim/v2/${type}/?$`, 'i'), `/scim/v2/${type}`],
    [new RegExp(`^/scim/v2/${type}/\\.search/?$`, 'i'), `/scim/v2/${type}/.search`],
    [new RegExp(`^/scim/v2/${type}/[^/]+/?$`, 'i'), `/scim/v2/${type}/:id`],
  ]),
  ...['Schemas', 'ResourceTypes'].flatMap((type): Array<[RegExp, string]> => [
    [new RegExp(`^/scim/v2/${type}/?$`, 'i'), `/scim/v2/${type}`],
    [new RegExp(`^/scim/v2/${type}/[^/]+/?$`, 'i'), `/scim/v2/${type}/:id`],
  ]),
  [/^\/scim\/v2\/ServiceProviderConfig\/?$/i, '/scim/v2/ServiceProviderConfig'],
  [/^\/scim\/v2\/serviceConfiguration\/?$/i, '/scim/v2/serviceConfiguration'],
  [/^\/scim\/v2\/\.search\/?$/i, '/scim/v2/.search'],
  [/^\/scim\/v2\/Me\/?$/i, '/scim/v2/Me'],
  [/^\/scim\/v2\/Bulk\/?$/i, '/scim/v2/Bulk'],
  [/^\/metrics\/?$/i, '/metrics'],
];

/**
 * `/tenants/{id}/scim/v2/Users` is labelled `/scim/v2/Users` with a `tenant` label: one route label per
 * endpoint whatever the number of tenants, and one dashboard query for the same endpoint of every tenant.
 * The `tenant` label is the configured id the dispatcher found (res.locals.tenantLabel), never the segment
 * as sent. Letter case is ignored, as routing does.
 */
const TENANT_PREFIX = /^\/tenants\/[^/]+(?=\/|$)/i;

function withoutTenant(path: string): string {
  const stripped = path.replace(TENANT_PREFIX, '');
  return stripped === '' ? '/' : stripped;
}

function intendedRoute(req: Request): string {
  const path = withoutTenant((req.originalUrl ?? req.url ?? '').split('?')[0]);
  for (const [pattern, label] of INTENDED_ROUTES) if (pattern.test(path)) return label;
  return UNMATCHED_ROUTE;
}

/**
 * The matched route pattern (mount path + route path, e.g. `/scim/v2/Users/:id`), never the concrete URL nor
 * the client's spelling of it, so label cardinality stays bounded whatever ids, filters and letter case
 * clients send. A handler may name its route explicitly with `res.locals.route` (for routers that match with
 * regular expressions or by hand). A request no route answered is labelled with the route it was aimed at,
 * if any (see INTENDED_ROUTES).
 */
export function routeLabel(req: Request, res: Response): string {
  const named = res.locals.route;
  if (typeof named === 'string' && named !== '') return withoutTenant(named);
  const remembered = res.locals.matchedRoute;
  if (typeof remembered === 'string') return remembered;
  const path: unknown = req.route?.path;
  const matched = path === undefined || path === null ? undefined : matchedPattern(req.baseUrl ?? '', path);
  return matched ?? intendedRoute(req);
}

/**
 * The HTTP methods a SCIM server, its health checks and its status page are asked for; any other (Node's parser
 * knows some thirty, WebDAV's among them) is counted as OTHER.
 */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
