import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { currentScope } from '../../platform/requestScope';
import {
  ScimForbidden,
  ScimNotFound,
  ScimServiceUnavailable,
  ScimTooManyRequests,
  ScimUnauthorized,
} from '../../scim/errors';
import { sendFailure } from '../scimResponses';
import { AuthenticationError, type AuthFailureReason, type Authenticator, WRITE_SCOPE } from './authenticator';
import type { FailureThrottle } from '../../platform/failureThrottle';
import { retryAfterSeconds } from '../../platform/retryAfter';
import type { Principal } from '../../platform/requestScope';

export interface AuthMiddlewareOptions {
  /** Called for every refusal, with a reason from a fixed set (a metrics label). */
  onFailure?(reason: AuthFailureReason): void;
  onSuccess?(principal: Principal): void;
  failureThrottle?: FailureThrottle;
  realm?: string;
  /**
   * Whether a credential this authenticator refused is one of another tenant. Such a request is
   * answered as a path that does not exist (404), never 401 (which would say "this tenant exists, try another
   * credential") nor 403, and counted as a failure like any wrong credential.
   */
  otherTenant?(authorization: string): Promise<boolean>;
  /** The 404's detail (the same words as for a tenant that does not exist). */
  notFoundDetail?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** A JWKS outage is usually short: the IdP is asked to come back soon, not to give up. */
const JWKS_RETRY_SECONDS = 5;

/**
 * SCIM searches may be POSTed to `/.search` (RFC 7644 §3.4.3); they read, so a read-only token may send them.
 * In any letter case, as routing matches them.
 */
function isReadOnlyRequest(req: Request): boolean {
  return SAFE_METHODS.has(req.method) || (req.method === 'POST' && /\/\.search\/?$/i.test(req.path));
}

/** The answer to a client over its failure budget whose credential was refused. */
export function tooManyFailures(retryAfterMs: number): ScimTooManyRequests {
  const seconds = retryAfterSeconds(retryAfterMs);
  return new ScimTooManyRequests(
    `Too many failed authentication attempts from this address; the credential was not accepted. Retry in ${seconds} s.`,
    seconds,
  );
}

/**
 * Puts the caller's Principal on `res.locals.principal` (and on the request scope, when one is open), or
 * answers with a SCIM Error: 401 for a missing or bad credential, 403 for a read-only credential on a
 * write, 429 while the client's failures have it throttled and its credential is not one that is valid
 * (see failureThrottle.ts), 503 when a JWT could not be checked because the JWKS is unreachable.
 */
export function createAuthMiddleware(authenticator: Authenticator, opts: AuthMiddlewareOptions = {}): RequestHandler {
  const realm = opts.realm ?? 'convertkit-scim';
  return async (req: Request, res: Response, next: NextFunction) => {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // Only a presented credential can be a guess: a request without one is answered 401 unthrottled and
    // uncounted, so an IdP's connection test without a token does not throttle its later, correct requests.
    const authorization = req.headers.authorization;
    const presented = (authorization ?? '').trim() !== '';
    const throttle = presented ? opts.failureThrottle : undefined;
    // A valid static token is known synchronously and is never refused for failures of others at its address
    // (shared IdP egress); a JWT is admitted over the budget only when its claims vouch for it (failureThrottle.ts).
    const known = throttle && authenticator.staticPrincipal(authorization);
    if (known) throttle.checked(ip, true);
    const admission =
      !throttle || known
        ? undefined
        : authenticator.vouchesFor(authorization)
          ? throttle.admitVouched(ip)
          : throttle.admit(ip);
    if (admission && !admission.admitted) {
      opts.onFailure?.('throttled');
      sendFailure(res, tooManyFailures(admission.retryAfterMs));
      return;
    }
    const attempt = admission?.attempt;
    let principal: Principal;
    try {
      principal = known ?? (await authenticator.authenticate(authorization));
    } catch (err) {
      if (!(err instanceof AuthenticationError)) {
        attempt?.settled();
        throw err;
      }
      if (err.status === 503) {
        opts.onFailure?.(err.reason);
        // Our JWKS outage is not the client's failure.
        attempt?.settled();
        sendFailure(res, new ScimServiceUnavailable(err.message, JWKS_RETRY_SECONDS, err));
        return;
      }
      // Over the budget only a valid credential is served; an invalid one is answered as refused.
      if (admission?.admitted && admission.overBudget) {
        attempt?.failed();
        opts.onFailure?.('throttled');
        sendFailure(res, tooManyFailures(admission.overBudget.retryAfterMs));
        return;
      }
      // Another scheme (Basic...) is not checked against anything, so it guesses nothing either.
      if (err.reason === 'malformed') attempt?.settled();
      else attempt?.failed();
      if (err.reason !== 'missing' && err.reason !== 'malformed' && opts.otherTenant) {
        if (await opts.otherTenant(authorization ?? '').catch(() => false)) {
          opts.onFailure?.('other_tenant');
          sendFailure(res, new ScimNotFound(opts.notFoundDetail ?? 'No such endpoint.'));
          return;
        }
      }
      opts.onFailure?.(err.reason);
      // RFC 6750 §3: no error code when no credential was sent, invalid_token when one was.
      const challenge =
        err.reason === 'missing' ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`;
      sendFailure(res, new ScimUnauthorized(err.message, challenge));
      return;
    }
    // A success settles only this attempt: it never clears the client's failures (see failureThrottle.ts).
    attempt?.settled();
    if (principal.readOnly && !isReadOnlyRequest(req)) {
      opts.onFailure?.('read_only');
      sendFailure(
        res,
        new ScimForbidden(`The token "${principal.name}" is read-only; it cannot ${req.method} resources.`, {
          challenge: `Bearer realm="${realm}", error="insufficient_scope", scope="${WRITE_SCOPE}"`,
        }),
      );
      return;
    }
    res.locals.principal = principal;
    const scope = currentScope();
    if (scope) scope.principal = principal;
    opts.onSuccess?.(principal);
    next();
  };
}
