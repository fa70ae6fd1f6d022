import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { RequestScope } from '../platform/requestScope';
import { routeLabel, trackMatchedRoute } from './httpMetrics';

// The access log: one line per request, on the application logger (platform/logging.ts masks what it writes).

/** What an incoming X-Request-Id must look like to be trusted as our request id (it ends up in logs). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Logged at debug when they succeed: probes and scrapes would otherwise drown the access log. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Access logging: one line per finished request with method, route pattern, status, duration and the
 * caller's principal name. Never bodies, headers or query strings (filters carry email addresses).
 * Assigns the request id (an acceptable incoming `X-Request-Id`, else a UUID) as `req.id` and echoes it in
 * the `X-Request-Id` response header. Request-scoped logs are on `req.log`.
 */
export function createRequestLogging(logger: Logger): RequestHandler {
  const middleware = pinoHttp<IncomingMessage, ServerResponse>({
    logger,
    genReqId: (req, res) => {
      const id = requestIdFor(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: unknown; method: string; url?: string; remoteAddress?: string; raw?: Request }) => ({
        id: req.id,
        method: req.method,
        path: (req.url ?? '').split('?')[0],
        remoteAddress: req.raw?.ip ?? req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      if (QUIET_PATHS.has((req.url ?? '').split('?')[0])) return 'debug';
      return 'info';
    },
    customSuccessObject: (req, res, val) => ({ ...val, ...outcome(req, res) }),
    customErrorObject: (req, res, _err, val) => ({ ...val, ...outcome(req, res) }),
    customSuccessMessage: (req, res) =>
      `${req.method} ${routeLabel(req as Request, res as Response)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${routeLabel(req as Request, res as Response)} ${res.statusCode}`,
  });
  return (req, res, next) => {
    trackMatchedRoute(req, res);
    middleware(req, res, next);
  };
}

/** Kit calls a request made, summarised by endpoint pattern and status: "GET /v4/subscribers 200 ×2". */
function kitSummary(scope: RequestScope | undefined): Record<string, unknown> | undefined {
  if (!scope || scope.kitCalls.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const c of scope.kitCalls) {
    const key = `${c.endpoint} ${c.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    calls: scope.kitCalls.length + (scope.kitCallsDropped ?? 0),
    ms: Math.round(scope.kitCalls.reduce((n, c) => n + c.durationMs, 0)),
    endpoints: [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)),
  };
}

function outcome(req: IncomingMessage, res: ServerResponse): Record<string, unknown> {
  const locals = (res as Response).locals ?? {};
  return {
    route: routeLabel(req as Request, res as Response),
    // The tenant the request reached; absent for the environment's one tenant (no tenants file).
    tenant: locals.tenantLabel?.tenant,
    principal: locals.principal?.name,
    kit: kitSummary(locals.scope),
  };
}
