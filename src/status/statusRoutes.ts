import type { RedisTopologyState } from '../platform/redisTopology';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { FailureThrottle } from '../platform/failureThrottle';
import { retryAfterSeconds } from '../platform/retryAfter';
import type { Readiness } from '../platform/readiness';
import type { KitLimiter } from '../kit/limiter';
import type { BookedMinute } from '../kit/slots';
import type { ReplicaRow } from './fleet';
import { type FleetView, renderLogin, renderStatus } from './render';
import { THIS_REPLICA } from './replica';
import type { StatusBoard } from './statusBoard';
import { STATUS_COOKIE, type StatusSessions } from './statusSession';

// Mounted at /status: GET /status (the page), GET/POST /status/login, POST /status/logout. With several tenants,
// each has its page at /tenants/{id}/status: links, redirects and the cookie's path follow the mount path
// (req.baseUrl), so a session of one tenant's page is never sent to another's.
//
// Access: only with a bearer token the server already accepts, exchanged through a form for a short-lived
// HttpOnly, SameSite=Strict session cookie (Secure when the request came over https). SameSite=Strict keeps the
// cookie off cross-site requests, and the login and logout POSTs must also carry this server's Origin, so no
// other site can log a browser in (login CSRF) or out. Sign-ins go through the same failure throttle, with the
// same rules, as SCIM bearer credentials. Answers here are plain HTML or text, never SCIM JSON: a browser reads them.

export interface StatusRouteDeps {
  board: StatusBoard;
  sessions: StatusSessions;
  readiness: Readiness;
  limiter: KitLimiter;
  budgetPerMinute: number;
  sharedLimiterConfigured: boolean;
  /** This replica's name in the fleet's rows. */
  replica: string;
  /** The tenant's id, named on its pages (a server with a tenants file). */
  tenant?: string;
  /** The fleet's figures from the shared store; undefined answers mean it cannot be read right now. */
  fleet?: { replicas(): Promise<ReplicaRow[] | undefined>; booked(): Promise<BookedMinute[]> };
  redisState?: () => RedisTopologyState;
  failureThrottle?: FailureThrottle;
  /** PUBLIC_BASE_URL: its origin is accepted on the login POST too (a proxy may rewrite Host). */
  publicBaseUrl?: string;
  /** Counted like a refused SCIM credential (scim_auth_failures_total). */
  onLoginFailure?: (reason: 'unknown_token' | 'throttled') => void;
}

// A page that carries personal-data-free but operational figures: never framed, never cached, no scripts at all.
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function htmlHeaders(res: Response): void {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

export function sendHtml(res: Response, status: number, html: string, headers: Record<string, string> = {}): void {
  htmlHeaders(res);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).send(html);
}

export function originOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const u = new URL(value);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** The page's mount path as the request reached it (express keeps it in req.baseUrl). */
function baseOf(req: Request): string {
  return req.baseUrl || '/status';
}

/** The browser's Origin (or, failing that, Referer) must be this server as the request reached it. */
export function fromOwnPage(req: Request, publicOrigin: string | undefined): boolean {
  const presented = originOf(req.get('origin')) ?? originOf(req.get('referer'));
  if (!presented) return false;
  const own = originOf(`${req.protocol}://${req.get('host') ?? ''}`);
  return presented === own || presented === publicOrigin;
}

export function statusRoutes(deps: StatusRouteDeps): Router {
  const router = Router();
  const publicOrigin = originOf(deps.publicBaseUrl);
  const replica = THIS_REPLICA;
  const sandbox = () => deps.readiness.report().sandbox === true;
  const login = (req: Request, error?: string) =>
    renderLogin({ base: baseOf(req), error, tenant: deps.tenant, sandbox: sandbox() });

  const fleetView = async (): Promise<FleetView | undefined> => {
    if (!deps.fleet) return undefined;
    try {
      const [replicas, minutes] = await Promise.all([deps.fleet.replicas(), deps.fleet.booked()]);
      return replicas ? { replicas, minutes } : undefined;
    } catch {
      // Redis away: the page shows this replica's figures and says so.
      return undefined;
    }
  };

  const sessionOf = (req: Request) => {
    const header = req.headers.cookie;
    if (!header || header.length > 8192) return undefined;
    return deps.sessions.verify(parseCookies(header)[STATUS_COOKIE]);
  };

  const sameOrigin = (req: Request) => fromOwnPage(req, publicOrigin);

  const cookie = (req: Request, value: string, maxAge: number) =>
    serializeCookie(STATUS_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure || publicOrigin?.startsWith('https:') === true,
      path: baseOf(req),
      maxAge,
    });

  router.get('/', async (req, res) => {
    const session = sessionOf(req);
    if (!session) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, `${baseOf(req)}/login`);
      return;
    }
    const fleet = await fleetView();
    sendHtml(
      res,
      200,
      renderStatus({
        base: baseOf(req),
        tenant: deps.tenant,
        replicaName: deps.replica,
        fleet,
        snapshot: deps.board.snapshot(),
        readiness: deps.readiness.report(),
        limiter: { ...deps.limiter.counts(), shared: deps.limiter.shared, spacingMs: deps.limiter.spacingMs },
        budgetPerMinute: deps.budgetPerMinute,
        replica,
        sharedLimiterConfigured: deps.sharedLimiterConfigured,
        redis: deps.redisState?.(),
        signedInAs: session.name,
      }),
    );
  });

  router.get('/login', (req, res) => sendHtml(res, 200, login(req)));

  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 4 });

  router.post('/login', form, (req, res) => {
    if (!sameOrigin(req)) {
      sendHtml(res, 403, login(req, 'Sign in from this server’s own login page.'));
      return;
    }
    const presented = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (presented === '') {
      sendHtml(res, 400, login(req, 'Enter a bearer token.'));
      return;
    }
    // The token is a digest lookup, done first: a valid one signs in even from an address others have failed
    // from (failureThrottle.ts); an invalid one counts, and over the budget is refused with 429.
    const token = deps.sessions.match(presented);
    const verdict = deps.failureThrottle?.checked(req.ip ?? req.socket.remoteAddress ?? 'unknown', token !== undefined);
    if (verdict?.refused) {
      deps.onLoginFailure?.('throttled');
      const seconds = retryAfterSeconds(verdict.retryAfterMs);
      sendHtml(res, 429, login(req, `Too many failed attempts from this address. Try again in ${seconds} s.`), {
        'Retry-After': String(seconds),
      });
      return;
    }
    if (!token) {
      deps.onLoginFailure?.('unknown_token');
      sendHtml(res, 401, login(req, 'That token is not one this server accepts.'));
      return;
    }
    res.setHeader('Set-Cookie', cookie(req, deps.sessions.issue(token), deps.sessions.ttlSeconds));
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, baseOf(req));
  });

  router.post('/logout', form, (req, res) => {
    if (!sameOrigin(req)) {
      res.status(403).type('text/plain').send('Sign out from the status page itself.');
      return;
    }
    res.setHeader('Set-Cookie', cookie(req, '', 0));
    res.redirect(303, `${baseOf(req)}/login`);
  });

  // A form body that is too large or malformed: a plain 4xx, never the SCIM error handler's JSON or a 500.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const given = (err as { status?: unknown } | null)?.status;
    const status = typeof given === 'number' && given >= 400 && given < 500 ? given : 400;
    res.status(status).type('text/plain').send('The form could not be read.');
  });

  return router;
}
