import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import SCIMMYRouters from 'scimmy-routers';
import type { PublicUrlConfig } from '../config/environment';
import { ScimBadRequest, ScimNotImplemented } from '../scim/errors';
import type { GroupDirectory } from '../scim/groups/groups';
import { forbiddenSegmentOf, quoteInput } from '../scim/inputLimits';
import { checkAttributeParams } from '../scim/schemas';
import { applyServiceProviderCapabilities } from '../scim/scimmy';
import type { UserDirectory } from '../scim/users';
import type { AuditSink } from '../platform/audit';
import { type AuthFailureReason, type Authenticator, createAuthMiddleware } from './auth';
import type { FailureThrottle } from '../platform/failureThrottle';
import type { KitCapabilities } from '../kit/api';
import { discoveryRoutes } from './discovery';
import { requestScopeMiddleware } from './requestScopeMiddleware';
import { scimRoutes } from './scimRoutes';

// One tenant's SCIM API: authentication with the tenant's credentials, request limits, the resource endpoints
// and discovery.

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
  /** Whether a refused credential is another tenant's (answered 404; see auth/middleware.ts). */
  otherTenant?(authorization: string): Promise<boolean>;
  maxBodyBytes: number;
  jwt: boolean;
  /** What the Kit API behind the port can do, so discovery tells the truth per backend (Kit v3). */
  kitCapabilities?: KitCapabilities;
  /** How Location and meta.location are built (PUBLIC_BASE_URL, SCIM_ALLOWED_HOSTS). */
  publicUrls: PublicUrlConfig;
  /** What ServiceProviderConfig advertises of security events. */
  serviceProviderExtension?: (
    scimRoot: string,
  ) => { schema: string; value: Record<string, unknown>; core?: Record<string, unknown> } | undefined;
}

/** The detail of every 404 for a tenant that does not exist, or a credential of another tenant: the same words. */
export const NO_SUCH_ENDPOINT = 'No such endpoint.';

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

/**
 * Discovery queries reach scimmy's filter parser (through discovery.ts); ours run first, so hostile input never
 * reaches it.
 */
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
    }),
  );

  // Endpoints scimmy-routers would answer with its own internals ("Method 'egress' not implemented…") or a
  // crash (a filter on ServiceProviderConfig): answered here in plain words.
  scim.all('/.search', () => {
    // POST /.search is answered by scimRoutes.ts (RFC 7644 §3.4.3); no other method searches.
    throw new ScimNotImplemented('Search the root with POST /.search; no other method is supported there.');
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
