import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type RequestScope, runInRequestScope } from '../platform/requestScope';

export interface RequestScopeOptions {
  /** Where the request id comes from; by default the id pino-http assigned (`req.id`), else a fresh UUID. */
  requestId?: (req: Request, res: Response) => string;
}

function defaultRequestId(req: Request): string {
  const id = (req as Request & { id?: unknown }).id;
  return id === undefined || id === null ? randomUUID() : String(id);
}

/**
 * Opens a scope for the rest of the middleware chain. `next()` runs inside the scope's async context, so every
 * continuation express 5 chains from it (async handlers, awaited promises, error handlers) sees the scope.
 * The scope is also put on `res.locals.scope` for code that has `res` and wants to skip the lookup.
 */
export function requestScopeMiddleware(opts: RequestScopeOptions = {}): RequestHandler {
  const idOf = opts.requestId ?? defaultRequestId;
  return (req: Request, res: Response, next: NextFunction) => {
    const scope: RequestScope = { requestId: idOf(req, res), method: req.method, kitCalls: [] };
    res.locals.scope = scope;
    runInRequestScope(scope, () => next());
  };
}
