import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { KitCallRecord } from './kitCallRecord';

// Prometheus metrics. Each Metrics owns its Registry: tests build many apps in one process, and the global
// registry would refuse the second registration of every name.

/** The route label for requests no route matched (404s, and refusals from middleware before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

// Wide on purpose: a SCIM request can wait in the Kit limiter for up to KIT_MAX_WAIT_MS (25 s by default).
const REQUEST_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC). On by default; tests that build many apps turn them off. */
  collectDefaults?: boolean;
}

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests: Counter<'method' | 'route' | 'status' | 'tenant'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'tenant'>;
  readonly kitCalls: Counter<'endpoint' | 'status' | 'tenant'>;
  readonly kitCallDuration: Histogram<'endpoint' | 'tenant'>;
  readonly kitRetries: Counter<'endpoint' | 'tenant'>;
  /** Kit's 429s. No labels: Kit limits per credential, not per endpoint. */
  readonly kitRateLimited: Counter<'tenant'>;
  readonly limiterQueueDepth: Gauge<'priority' | 'tenant'>;
  readonly limiterWait: Histogram<'priority' | 'tenant'>;
  readonly reactivationRejected: Counter<'operation' | 'tenant'>;
  /** Issue #13: creates whose upsert found a subscriber created in Kit after the lookup (Kit answered 200). */
  readonly createRaced: Counter<'tenant'>;
  /** Issue #13: Kit webhook deliveries accepted, and those that needed a Kit read. */
  readonly webhookDeliveries: Counter<'outcome' | 'tenant'>;
  readonly webhookDeliveriesDropped: Counter<'reason' | 'tenant'>;
  readonly deprovisions: Counter<'kind' | 'tenant'>;
  readonly authFailures: Counter<'reason' | 'tenant'>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'scim_http_requests_total',
      help: 'SCIM HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status', 'tenant'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'scim_http_request_duration_seconds',
      help: 'Time to answer a SCIM HTTP request, by route pattern',
      labelNames: ['method', 'route', 'tenant'],
      buckets: REQUEST_SECONDS,
      registers,
    });
    this.kitCalls = new Counter({
      name: 'kit_api_calls_total',
      help: 'HTTP exchanges with the Kit API, by endpoint pattern and status ("error" when no answer came)',
      labelNames: ['endpoint', 'status', 'tenant'],
      registers,
    });
    this.kitCallDuration = new Histogram({
      name: 'kit_api_call_duration_seconds',
      help: 'Duration of one HTTP exchange with the Kit API',
      labelNames: ['endpoint', 'tenant'],
      buckets: REQUEST_SECONDS,
      registers,
    });
    this.kitRetries = new Counter({
      name: 'kit_api_retries_total',
      help: 'Kit API exchanges that were retries of an earlier attempt',
      labelNames: ['endpoint', 'tenant'],
      registers,
    });
    this.kitRateLimited = new Counter({
      name: 'kit_api_rate_limited_total',
      help: 'Kit API answers with status 429',
      labelNames: ['tenant'],
      registers,
    });
    this.limiterQueueDepth = new Gauge({
      name: 'kit_limiter_queue_depth',
      help: 'Kit calls waiting in the rate limiter, by priority',
      labelNames: ['priority', 'tenant'],
      registers,
    });
    this.limiterWait = new Histogram({
      name: 'kit_limiter_wait_seconds',
      help: 'Time a Kit call waited in the rate limiter before starting',
      labelNames: ['priority', 'tenant'],
      buckets: WAIT_SECONDS,
      registers,
    });
    this.reactivationRejected = new Counter({
      name: 'scim_reactivation_rejected_total',
      help: 'Requests refused because Kit cannot reactivate a non-active subscriber, by SCIM operation',
      labelNames: ['operation', 'tenant'],
      registers,
    });
    this.createRaced = new Counter({
      name: 'scim_create_raced_total',
      help: 'POST /Users whose upsert met a subscriber created in Kit after the lookup (answered 409, audited)',
      labelNames: ['tenant'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'kit_webhook_deliveries_total',
      help: 'Kit webhook deliveries accepted, by outcome (known: agreed with what the server knew; read: re-read from Kit; joined: a later delivery for the same subscriber was handled instead)',
      labelNames: ['outcome', 'tenant'],
      registers,
    });
    this.webhookDeliveriesDropped = new Counter({
      name: 'kit_webhook_deliveries_dropped_total',
      help: 'Kit webhook deliveries accepted but not acted on, by reason (over_budget: the re-read share of the Kit budget was spent; pending_full: too many subscribers pending); the mirror walk corrects them',
      labelNames: ['reason', 'tenant'],
      registers,
    });
    this.deprovisions = new Counter({
      name: 'scim_deprovisions_total',
      help: 'Users deprovisioned, by kind (deactivate or delete)',
      labelNames: ['kind', 'tenant'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'scim_auth_failures_total',
      help: 'Refused inbound requests, by reason',
      labelNames: ['reason', 'tenant'],
      registers,
    });
    if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The Kit client's onCall hook: one record per HTTP exchange, retries included. `scope` is the tenant's label
   * (empty for the one tenant the environment describes, whose series stay as they were before tenants).
   */
  recordKitCall(rec: KitCallRecord, scope: TenantLabel = {}): void {
    const status = String(rec.status);
    this.kitCalls.inc(labels({ ...scope, endpoint: rec.endpoint, status }));
    this.kitCallDuration.observe(labels({ ...scope, endpoint: rec.endpoint }), rec.durationMs / 1000);
    if (rec.status === 429) this.kitRateLimited.inc(labels({ ...scope }));
    if (rec.attempt > 1) this.kitRetries.inc(labels({ ...scope, endpoint: rec.endpoint }));
  }

  /**
   * Counts and times every request once its response is done (or the client went away: status "aborted").
   * Mount it first so refusals by later middleware are counted too.
   */
  httpMiddleware(): RequestHandler {
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
          this.httpRequests.inc(labels({ ...scope, method, route, status }));
          this.httpDuration.observe(labels({ ...scope, method, route }), seconds);
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
  handler(only?: (req: Request, res: Response) => TenantLabel | undefined): RequestHandler {
    return async (req: Request, res: Response) => {
      const all = await this.registry.metrics();
      const tenant = only?.(req, res)?.tenant;
      const body = tenant === undefined ? all : seriesOfTenant(all, tenant);
      res.setHeader('Content-Type', this.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(body);
    };
  }
}

/** `{tenant: id}` on the series of a tenant; empty for the one tenant the environment describes. */
export type TenantLabel = { tenant?: string };

/**
 * The exposition cut down to the series labelled `tenant="<id>"` (and their HELP/TYPE lines). Tenant ids are
 * restricted to [a-z0-9-] (tenants/model.ts), so the label needs no escaping and cannot match a prefix of
 * another id (the closing quote is part of the match).
 */
export function seriesOfTenant(exposition: string, tenant: string): string {
  const marker = `tenant="${tenant}"`;
  const out: string[] = [];
  let header: string[] = [];
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) {
      // A HELP line opens a new family; its TYPE line follows.
      if (line.startsWith('# HELP ')) header = [];
      header.push(line);
      continue;
    }
    if (!line.includes(marker)) continue;
    out.push(...header, line);
    header = [];
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * A label set with no prototype. prom-client checks label names with `for…in`, which also walks inherited
 * properties: were any dependency to write Object.prototype.x (scimmy 1.3.5's filter parser did, issue #11),
 * every plain-object label set would carry "x" and every metric update would throw.
 */
export function labels<T extends Record<string, string>>(values: T): T {
  return Object.assign(Object.create(null) as T, values);
}

const MATCHED_ROUTE = 'matchedRoute';
const TRACKING = 'matchedRouteTracked';

/**
 * The router assigns `req.route` when a route matches, while `req.baseUrl` is still the mount path. By the
 * time the response closes, a handler that failed into an app-level error handler has left its router and
 * `req.baseUrl` is back to "", so the pattern is captured at assignment instead. Idempotent; the metrics and
 * request-logging middleware both call it.
 */
export function trackMatchedRoute(req: Request, res: Response): void {
  if (res.locals[TRACKING]) return;
  res.locals[TRACKING] = true;
  let route: Request['route'] = req.route;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: Request['route']) => {
      route = value;
      if (value) res.locals[MATCHED_ROUTE] = matchedPattern(req.baseUrl ?? '', value.path);
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
  const remembered = res.locals[MATCHED_ROUTE];
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
