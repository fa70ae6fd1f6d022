import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import SCIMMYRouters from 'scimmy-routers';
import type { PublicUrlConfig } from '../config/environment';
import { ScimBadRequest, ScimNotFound, ScimNotImplemented } from '../scim/errors';
import type { GroupDirectory } from '../scim/groups/groups';
import { forbiddenSegmentOf, quoteInput } from '../scim/inputLimits';
import { checkAttributeParams } from '../scim/schemas';
import { applyServiceProviderCapabilities } from '../scim/scimmyGlobals';
import type { RendererKind } from '../scim/render';
import type { UserDirectory } from '../scim/users';
import type { AuditSink } from '../platform/audit';
import { type AuthFailureReason, type Authenticator, createAuthMiddleware } from './auth';
import type { FailureThrottle } from '../platform/failureThrottle';
import type { TenantEndpoint } from './tenantRoutes';
import { type IpAllowlist, ipAllowlistMiddleware } from './ipAllowlist';
import type { KitCapabilities } from '../kit/api';
import { discoveryRoutes } from './discovery';
import { createRequestLogging } from '../platform/logging';
import { labels, type Metrics } from '../platform/metrics';
import { PrototypeGuard } from './prototypeGuard';
import { requestScopeMiddleware } from '../platform/requestScope';
import { sendFailure } from './scimResponses';
import { scimRoutes } from './scimRoutes';

/** What one tenant's SCIM API (`/scim/v2` of the tenant) is built from: its Kit account's services and credentials. */
export interface ScimRouterDeps {
  services: () => { users: UserDirectory; groups: GroupDirectory };
  authenticator: Authenticator;
  logger: Logger;
  audit?: AuditSink;
  failureThrottle?: FailureThrottle;
  /** The IP allow-list's check (the process's), in front of authentication; empty without SCIM_IP_ALLOWLIST. */
  allowlist: RequestHandler[];
  /** Every refused credential, with its reason (a metrics label). */
  onAuthFailure(reason: AuthFailureReason): void;
  /** Issue #18: whether a refused credential is another tenant's (answered 404; see auth/middleware.ts). */
  otherTenant?(authorization: string): Promise<boolean>;
  maxBodyBytes: number;
  jwt: boolean;
  /** What the Kit API behind the port can do, so discovery tells the truth per backend (Kit v3). */
  kitCapabilities?: KitCapabilities;
  /** How Location and meta.location are built (PUBLIC_BASE_URL, SCIM_ALLOWED_HOSTS). */
  publicUrls: PublicUrlConfig;
  /** Issue 15: what ServiceProviderConfig advertises of security events. */
  serviceProviderExtension?: (scimRoot: string) => { schema: string; value: Record<string, unknown> } | undefined;
  /** How SCIM resources are rendered (SCIM_RENDERER); the compiled renderer unless told otherwise. */
  renderer?: RendererKind;
}

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
  /** Who may read every tenant's series at /metrics: the operator tokens (issue #18). */
  operatorAuthenticator: () => Authenticator;
  /** GET /readyz: the process's checks and each tenant's. */
  readiness: RequestHandler;
  liveness: RequestHandler;
  /** Routes that take no SCIM credential and must not reach the access log (Kit's webhook receiver). */
  unloggedRoutes?: express.Router[];
}

/** The tenants as the HTTP layer sees them. */
export interface TenantDirectoryView {
  find(id: string): TenantEndpoint | undefined;
  /** The tenant `/scim/v2` and `/status` reach: the only one, when exactly one is configured. */
  only(): TenantEndpoint | undefined;
}

/** The detail of every 404 for a tenant that does not exist, or a credential of another tenant: the same words. */
export const NO_SUCH_ENDPOINT = 'No such endpoint.';

/** Paths a single tenant also serves at the root, as before tenants. */
const SINGLE_TENANT_PATHS = /^\/(scim\/v2|status)(\/|$)/i;

/**
 * SCIM bodies nest a handful of levels (a PatchOp value holding the enterprise extension's manager is 5). Much
 * deeper JSON is refused before the recursive code behind (PATCH normalisation, scimmy's coercion, JSON
 * round-trips) can overflow the stack and turn a client's error into a 500.
 */
export const MAX_BODY_DEPTH = 64;

/** What is wrong with a body's shape, if anything: too deep, or a key naming JavaScript's object machinery. */
function bodyShapeProblem(value: unknown, limit: number): ScimBadRequest | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) {
      return new ScimBadRequest('invalidSyntax', `The request body is nested deeper than ${limit} levels.`);
    }
    for (const [key, child] of Object.entries(node as object)) {
      // Own "__proto__" keys survive JSON.parse; any code that copies them by assignment rewrites a prototype.
      const forbidden = forbiddenSegmentOf(key);
      if (forbidden !== undefined) {
        return new ScimBadRequest(
          'invalidValue',
          `The request body has the key ${quoteInput(key)}: "${forbidden}" is no attribute name.`,
        );
      }
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

function limitBodyShape(req: Request, res: Response, next: NextFunction): void {
  const problem =
    req.body !== null && typeof req.body === 'object' ? bodyShapeProblem(req.body, MAX_BODY_DEPTH) : undefined;
  next(problem);
}

/** Discovery queries reach scimmy's filter parser (through discovery.ts); ours run first (issue #11). */
function checkDiscoveryQuery(req: Request, res: Response, next: NextFunction): void {
  checkAttributeParams(req.query as Record<string, unknown>);
  next();
}

/** Express 5 re-parses req.query on every access; scimmy-routers' paging casts need a stable object. */
function stableQuery(req: Request, _res: Response, next: NextFunction): void {
  Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true });
  next();
}

/**
 * On every response, errors and refusals included: SCIM bodies carry personal data (names, emails) that no
 * shared cache or browser should keep, and a browser that opens one must not sniff it into something it runs.
 */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/**
 * One tenant's SCIM API, mounted at `/scim/v2` of the tenant (`/tenants/{id}/scim/v2`, or `/scim/v2` when it is
 * the only one): authentication with the tenant's credentials, the resource endpoints and discovery. URLs it
 * writes follow the mount path (req.baseUrl), so a tenant's Locations carry its own base.
 */
export function createScimRouter(deps: ScimRouterDeps): express.Router {
  const authenticate = createAuthMiddleware(deps.authenticator, {
    onFailure: deps.onAuthFailure,
    failureThrottle: deps.failureThrottle,
    otherTenant: deps.otherTenant,
    notFoundDetail: NO_SUCH_ENDPOINT,
  });
  const scim = express.Router();
  scim.use(...deps.allowlist, requestScopeMiddleware(), authenticate);
  scim.use(
    express.json({
      type: ['application/scim+json', 'application/json', 'application/*+json'],
      limit: deps.maxBodyBytes,
    }),
  );
  scim.use(limitBodyShape);
  scim.use(stableQuery);
  scim.use(
    scimRoutes({
      services: deps.services,
      audit: deps.audit,
      logger: deps.logger,
      publicUrls: deps.publicUrls,
      renderer: deps.renderer,
    }),
  );

  // Endpoints scimmy-routers would answer with its own internals ("Method 'egress' not implemented…") or a
  // crash (a filter on ServiceProviderConfig): answered here in plain words.
  scim.all('/.search', () => {
    throw new ScimNotImplemented('Search the root is not supported; POST to /Users/.search or /Groups/.search.');
  });
  scim.all('/Me', () => {
    throw new ScimNotImplemented('/Me is not supported: SCIM clients here are provisioning systems, not users.');
  });
  scim.use(checkDiscoveryQuery);
  scim.use(
    discoveryRoutes({
      publicUrls: deps.publicUrls,
      logger: deps.logger,
      jwt: deps.jwt,
      kitCapabilities: deps.kitCapabilities,
      serviceProviderExtension: deps.serviceProviderExtension,
      services: deps.services,
    }),
  );

  // scimmy-routers answers what is left (its own 404s and refusals for /Bulk and the like); authentication
  // has already happened above, so its own handler only has to accept.
  const discovery = new SCIMMYRouters({
    type: 'bearer',
    handler: async () => 'scim-client',
    context: async () => ({}),
  });
  // The constructor claims bulk support in scimmy's global configuration: put the true capabilities back.
  applyServiceProviderCapabilities();
  scim.use(discovery);
  return scim;
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
function singleTenantDispatch(tenants: TenantDirectoryView): RequestHandler {
  const dispatch = (req: Request, res: Response, next: NextFunction) => {
    if (!SINGLE_TENANT_PATHS.test(req.path)) return next();
    const only = tenants.only();
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
  app.use(deps.metrics.httpMiddleware());
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
  app.get('/metrics', ...allowlist, requestScopeMiddleware(), authenticateOperator, deps.metrics.handler());

  // /tenants/{id}/... is the tenant's; a tenant that does not exist is a 404 like any unknown path. Routing
  // ignores the letter case of the path's literal parts (`/TENANTS/a` is `/tenants/a`); the id is a value,
  // compared exactly like a resource id.
  app.use('/tenants/:tenant', (req: Request, res: Response, next: NextFunction) => {
    const tenant = deps.tenants.find(String(req.params.tenant));
    if (!tenant) throw new ScimNotFound(NO_SUCH_ENDPOINT);
    tenant.handle(req, res, next);
  });
  // The root paths of a server with one tenant, as before tenants.
  app.use(singleTenantDispatch(deps.tenants));

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
