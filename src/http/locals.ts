import type { TenantLabel } from '../platform/metrics';
import type { Principal, RequestScope } from '../platform/requestScope';

// What a request's middleware leaves for later middleware and handlers on `res.locals`, declared once so every
// reader gets it typed. Express merges this into its own `Locals` (an empty interface otherwise).

declare global {
  // Declaration merging with @types/express-serve-static-core's global namespace is how Express types locals.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The authenticated caller (auth/middleware.ts). */
      principal?: Principal;
      /** The request scope (requestScopeMiddleware.ts), for code that has `res` and wants to skip the lookup. */
      scope?: RequestScope;
      /** The configured id of the tenant the dispatcher found (app/tenant.ts). */
      tenant?: string;
      /** That tenant as a metric label; absent for the environment's one tenant. */
      tenantLabel?: TenantLabel;
      /** A route pattern a handler names for itself (routers that match by hand or by regular expression). */
      route?: string;
      /** The pattern of the route that matched, captured when the router assigns it (httpMetrics.ts). */
      matchedRoute?: string;
      /** Whether that capture is installed for this request already. */
      matchedRouteTracked?: boolean;
      /** Member ids a group write skipped because they are not users, for the audit line. */
      skippedMembers?: string[];
    }
  }
}

export {};
