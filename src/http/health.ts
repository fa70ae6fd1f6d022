import type { Request, RequestHandler, Response } from 'express';

// The health endpoints: they take no credential, so they answer only what a load balancer needs.

/** GET /healthz: 200 for as long as the process can answer at all. */
export function livenessHandler(): RequestHandler {
  return (_req: Request, res: Response) => {
    sendJson(res, 200, { status: 'ok' });
  };
}

/** GET /readyz: 200 when the report says ok (every check passes and no shutdown has begun), else 503. */
export function readinessHandler(report: () => { status: 'ok' | 'unavailable' }): RequestHandler {
  return (_req: Request, res: Response) => {
    const current = report();
    sendJson(res, current.status === 'ok' ? 200 : 503, current);
  };
}

function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.send(JSON.stringify(body));
}
