import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express';
import type { FailureThrottle } from '../platform/failureThrottle';
import { retryAfterSeconds } from '../platform/retryAfter';
import { renderChooser, renderLogin } from './render';
import { fromOwnPage, originOf, sendHtml } from './statusRoutes';
import { STATUS_COOKIE, type StatusSessions } from './statusSession';

// `/status` on a server with several tenants: a chooser. Signing in here with a bearer token signs the browser
// in to the status page of every tenant that accepts the token (one cookie per tenant page, each issued by that
// tenant's sessions, scoped to its path) and lists exactly those tenants; a tenant that does not accept the
// token is neither listed nor opened. The chooser's own cookie is verified against every tenant's sessions, so
// the list follows the configuration as it is now (a tenant removed by a reload drops off).

export interface ChooserTenant {
  id: string;
  sessions: StatusSessions;
  sandbox: boolean;
}

export interface StatusChooserDeps {
  /** The tenants at the time of the request (a reload swaps them). */
  tenants: () => ChooserTenant[];
  /** The IP allow-list, in front of the sign-in as in front of each tenant's page. */
  allowlist?: RequestHandler[];
  failureThrottle?: FailureThrottle;
  publicBaseUrl?: string;
  onLoginFailure?: (reason: 'unknown_token' | 'throttled') => void;
}

const BASE = '/status';
const tenantBase = (id: string) => `/tenants/${encodeURIComponent(id)}/status`;

export function statusChooser(deps: StatusChooserDeps): Router {
  const router = Router();
  const publicOrigin = originOf(deps.publicBaseUrl);
  const anySandbox = () => deps.tenants().some((t) => t.sandbox);
  const login = (error?: string) => renderLogin({ base: BASE, error, chooser: true, sandbox: anySandbox() });

  const cookie = (req: Request, path: string, value: string, maxAge: number) =>
    serializeCookie(STATUS_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure || publicOrigin?.startsWith('https:') === true,
      path,
      maxAge,
    });

  router.get('/', (req, res) => {
    const header = req.headers.cookie;
    const value = header && header.length <= 8192 ? parseCookies(header)[STATUS_COOKIE] : undefined;
    let signedInAs: string | undefined;
    const open = deps.tenants().filter((t) => {
      const session = t.sessions.verify(value);
      signedInAs ??= session?.name;
      return session !== undefined;
    });
    if (!signedInAs) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, `${BASE}/login`);
      return;
    }
    sendHtml(
      res,
      200,
      renderChooser({
        tenants: open.map((t) => ({ id: t.id, sandbox: t.sandbox })),
        signedInAs,
        sandbox: open.some((t) => t.sandbox),
      }),
    );
  });

  router.get('/login', (_req, res) => sendHtml(res, 200, login()));

  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 4 });

  router.post('/login', form, (req, res) => {
    if (!fromOwnPage(req, publicOrigin)) {
      sendHtml(res, 403, login('Sign in from this server’s own login page.'));
      return;
    }
    const presented = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (presented === '') {
      sendHtml(res, 400, login('Enter a bearer token.'));
      return;
    }
    const accepting = deps.tenants().flatMap((t) => {
      const token = t.sessions.match(presented);
      return token ? [{ tenant: t, token }] : [];
    });
    const verdict = deps.failureThrottle?.checked(
      req.ip ?? req.socket.remoteAddress ?? 'unknown',
      accepting.length > 0,
    );
    if (verdict?.refused) {
      deps.onLoginFailure?.('throttled');
      const seconds = retryAfterSeconds(verdict.retryAfterMs);
      sendHtml(res, 429, login(`Too many failed attempts from this address. Try again in ${seconds} s.`), {
        'Retry-After': String(seconds),
      });
      return;
    }
    if (accepting.length === 0) {
      deps.onLoginFailure?.('unknown_token');
      sendHtml(res, 401, login('That token is not one this server accepts.'));
      return;
    }
    const [first] = accepting;
    res.setHeader('Set-Cookie', [
      cookie(req, BASE, first.tenant.sessions.issue(first.token), first.tenant.sessions.ttlSeconds),
      ...accepting.map(({ tenant, token }) =>
        cookie(req, tenantBase(tenant.id), tenant.sessions.issue(token), tenant.sessions.ttlSeconds),
      ),
    ]);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, BASE);
  });

  router.post('/logout', form, (req, res) => {
    if (!fromOwnPage(req, publicOrigin)) {
      res.status(403).type('text/plain').send('Sign out from the status page itself.');
      return;
    }
    res.setHeader('Set-Cookie', [
      cookie(req, BASE, '', 0),
      ...deps.tenants().map((t) => cookie(req, tenantBase(t.id), '', 0)),
    ]);
    res.redirect(303, `${BASE}/login`);
  });

  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const given = (err as { status?: unknown } | null)?.status;
    const status = typeof given === 'number' && given >= 400 && given < 500 ? given : 400;
    res.status(status).type('text/plain').send('The form could not be read.');
  });

  // Mounted by path here: the dispatcher hands over every request under /status.
  return Router().use(BASE, ...(deps.allowlist ?? []), router);
}
