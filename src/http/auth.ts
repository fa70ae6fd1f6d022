import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { BearerToken, JwtConfig } from '../config';
import { currentScope } from './requestScope';
import { sendScimError } from './scimErrorBody';

// Inbound authentication: static bearer tokens (optionally read-only) and JWTs verified against a JWKS.
// Nothing in this file ever puts the presented token into a message, a log field or a response.

export interface Principal {
  /** For logs and the audit trail: the configured token name, or `jwt:<sub>`. Never the credential. */
  name: string;
  kind: 'token' | 'jwt';
  readOnly: boolean;
  subject?: string;
}

/** A small, fixed set so it can be a metrics label. */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown_token'
  | 'jwt_invalid'
  | 'jwt_expired'
  | 'jwt_claims'
  | 'jwt_algorithm'
  | 'jwks_unavailable'
  | 'read_only';

/** The scope a JWT must carry for write access, when it carries a scope claim at all. */
export const WRITE_SCOPE = 'scim:write';

export class AuthenticationError extends Error {
  /**
   * 401 for a bad credential; 503 when the credential could not be checked because the JWKS could not be
   * fetched (telling an IdP "unauthorised" for our own outage would make it disable provisioning).
   */
  readonly status: 401 | 503;
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'AuthenticationError';
    this.status = reason === 'jwks_unavailable' ? 503 : 401;
  }
}

export interface AuthenticatorOptions {
  bearerTokens: BearerToken[];
  jwt?: JwtConfig;
  /** Milliseconds since the epoch; JWT exp/nbf/iat are checked against it. */
  now?: () => number;
  jwks?: {
    /**
     * How long after a JWKS fetch an unknown `kid` does not trigger another fetch. Lower than jose's 30 s
     * default so a rotation is picked up quickly, high enough that junk `kid`s cannot hammer the IdP.
     */
    cooldownMs?: number;
    timeoutMs?: number;
    /** Refetch the JWKS at least this often even when every kid is known. */
    cacheMaxAgeMs?: number;
    /** Replaces the remote JWKS (e.g. a local key set); the JwtConfig's jwksUrl is then unused. */
    resolver?: JWTVerifyGetKey;
  };
}

// Three base64url segments; the signature may be empty only in unsecured JWTs, which jwtVerify rejects anyway.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER = /^Bearer +(\S+) *$/i;
// Symmetric algorithms would let anyone who can read the public JWKS mint tokens if it ever carried an
// `oct` key; `none` is never acceptable.
const REFUSED_ALGORITHMS = /^(HS\d+|none)$/i;
const DEFAULT_ALGORITHMS = ['RS256', 'ES256'];

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class Authenticator {
  private readonly tokens: Array<{ digest: Buffer; token: BearerToken }>;
  private readonly jwt?: JwtConfig & { keys: JWTVerifyGetKey };
  private readonly now: () => number;

  constructor(opts: AuthenticatorOptions) {
    this.now = opts.now ?? Date.now;
    this.tokens = opts.bearerTokens.map((token) => ({ digest: digest(token.token), token }));
    if (opts.jwt) {
      const algorithms = opts.jwt.algorithms.length > 0 ? opts.jwt.algorithms : DEFAULT_ALGORITHMS;
      const refused = algorithms.filter((a) => REFUSED_ALGORITHMS.test(a));
      if (refused.length > 0)
        throw new Error(`JWT algorithms not allowed for JWKS verification: ${refused.join(', ')}`);
      const keys =
        opts.jwks?.resolver ??
        createRemoteJWKSet(new URL(opts.jwt.jwksUrl), {
          cooldownDuration: opts.jwks?.cooldownMs ?? 10_000,
          timeoutDuration: opts.jwks?.timeoutMs ?? 5_000,
          cacheMaxAge: opts.jwks?.cacheMaxAgeMs ?? 600_000,
        });
      this.jwt = { ...opts.jwt, algorithms, keys };
    }
  }

  async authenticate(authorizationHeader: string | undefined): Promise<Principal> {
    if (authorizationHeader === undefined || authorizationHeader.trim() === '')
      throw new AuthenticationError('missing', 'Authentication is required: send an Authorization: Bearer token.');
    const match = BEARER.exec(authorizationHeader);
    if (!match) throw new AuthenticationError('malformed', 'The Authorization header must use the Bearer scheme.');
    const presented = match[1];

    const token = this.matchStaticToken(presented);
    if (token) return { name: token.name, kind: 'token', readOnly: token.readOnly };
    if (this.jwt && JWT_SHAPE.test(presented)) return this.verifyJwt(presented, this.jwt);
    throw new AuthenticationError('unknown_token', 'The bearer token is not recognised.');
  }

  /**
   * Compares digests rather than the tokens, so every comparison is over 32 bytes whatever the lengths, and
   * walks every configured token without stopping early, so timing reveals neither which token matched
   * nor how long any of them is.
   */
  private matchStaticToken(presented: string): BearerToken | undefined {
    const presentedDigest = digest(presented);
    let found: BearerToken | undefined;
    for (const candidate of this.tokens) {
      if (timingSafeEqual(candidate.digest, presentedDigest) && !found) found = candidate.token;
    }
    return found;
  }

  private async verifyJwt(token: string, jwt: JwtConfig & { keys: JWTVerifyGetKey }): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwt.keys, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockTolerance: jwt.clockSkewSeconds,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub'],
      }));
    } catch (err) {
      throw jwtFailure(err);
    }
    const subject = payload.sub!;
    const scopes = scopesOf(payload);
    return {
      name: `jwt:${subject}`,
      kind: 'jwt',
      subject,
      // Documented rule: a token that states its scopes must include scim:write to change anything; a token
      // without any scope claim (common for client-credentials tokens scoped by audience alone) is full access.
      readOnly: scopes !== undefined && !scopes.includes(WRITE_SCOPE),
    };
  }
}

/** `scope` (RFC 8693, space-separated) or `scp` (Okta/Entra: a string or an array). Undefined when absent. */
function scopesOf(payload: JWTPayload): string[] | undefined {
  const claim = payload.scope ?? payload.scp;
  if (claim === undefined) return undefined;
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === 'string');
  if (typeof claim === 'string') return claim.split(' ').filter(Boolean);
  return [];
}

// jose's own messages are safe (they name claims, not values) but are phrased for developers; these are
// phrased for the operator reading an IdP's provisioning error log.
function jwtFailure(err: unknown): AuthenticationError {
  if (err instanceof errors.JWTExpired) return new AuthenticationError('jwt_expired', 'The token has expired.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const detail: Record<string, string> = {
      iss: 'The token issuer is not accepted.',
      aud: 'The token audience is not accepted.',
      nbf: 'The token is not valid yet.',
      iat: 'The token was issued in the future.',
      sub: 'The token has no subject (sub) claim.',
    };
    return new AuthenticationError('jwt_claims', detail[err.claim] ?? 'The token claims are not accepted.');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return new AuthenticationError('jwt_algorithm', 'The token signing algorithm is not accepted.');
  if (err instanceof errors.JWKSNoMatchingKey)
    return new AuthenticationError('jwt_invalid', 'The token was signed with a key the JWKS does not publish.');
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new AuthenticationError('jwt_invalid', 'The token signature is invalid.');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError))
    return jwksUnavailable();
  // jose reports a non-200 JWKS answer as a generic JOSEError.
  if (err.code === 'ERR_JOSE_GENERIC') return jwksUnavailable();
  return new AuthenticationError('jwt_invalid', 'The token is not a valid JWT.');
}

function jwksUnavailable(): AuthenticationError {
  return new AuthenticationError('jwks_unavailable', 'The token could not be checked: the JWKS is unavailable.');
}

export interface FailureThrottleOptions {
  /** Failures inside the window before delays start. */
  threshold?: number;
  windowMs?: number;
  /** The first delay; each further failure doubles it up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * The memory bound: at most this many clients are tracked (each a handful of timestamps, well under
   * 200 bytes), the least recently failing one evicted first. Default 10,000, about 2 MB at worst.
   */
  maxTrackedClients?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Slows down repeated failed authentication from one client: after `threshold` failures within `windowMs`,
 * every further failure is answered only after a delay (250 ms, doubling, capped at 5 s by default). A
 * success resets the client. Keyed by IP; IPv6 clients by their /64, since one host usually owns a whole /64.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxTrackedClients: number;
  /** Timestamps kept per client: past this many the delay is already at its cap. */
  private readonly kept: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: FailureThrottleOptions = {}) {
    this.threshold = opts.threshold ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 5_000;
    this.maxTrackedClients = opts.maxTrackedClients ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    const doublings = this.baseDelayMs > 0 ? Math.ceil(Math.log2(Math.max(1, this.maxDelayMs / this.baseDelayMs))) : 0;
    this.kept = this.threshold + doublings + 1;
  }

  /** Records a failure and returns the delay (ms) to apply before answering it. */
  registerFailure(ip: string): number {
    const key = clientKey(ip);
    const now = this.now();
    const recent = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    recent.push(now);
    if (recent.length > this.kept) recent.splice(0, recent.length - this.kept);
    // Re-inserting moves the client to the end, so Map order is least-recently-failing first.
    this.failures.delete(key);
    this.failures.set(key, recent);
    while (this.failures.size > this.maxTrackedClients) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
    const excess = recent.length - this.threshold;
    return excess <= 0 ? 0 : Math.min(this.baseDelayMs * 2 ** (excess - 1), this.maxDelayMs);
  }

  /** Records a failure and waits out its delay. Resolves to the delay applied. */
  async failed(ip: string): Promise<number> {
    const delay = this.registerFailure(ip);
    if (delay > 0) await this.sleep(delay);
    return delay;
  }

  succeeded(ip: string): void {
    this.failures.delete(clientKey(ip));
  }

  get trackedClients(): number {
    return this.failures.size;
  }
}

/** IPv4 (including IPv4-mapped IPv6) as is; other IPv6 addresses reduced to their /64 prefix. */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  const address = ip.split('%')[0].toLowerCase();
  const [head, tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '') || '0')
    .join(':')}::/64`;
}

export interface AuthMiddlewareOptions {
  /** Called for every refusal, with a reason from a fixed set (a metrics label). */
  onFailure?(reason: AuthFailureReason): void;
  onSuccess?(principal: Principal): void;
  failureDelay?: FailureThrottle;
  realm?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * SCIM searches may be POSTed to `/.search` (RFC 7644 §3.4.3); they read, so a read-only token may send them.
 */
function isReadOnlyRequest(req: Request): boolean {
  return SAFE_METHODS.has(req.method) || (req.method === 'POST' && /\/\.search\/?$/.test(req.path));
}

/**
 * Puts the caller's Principal on `res.locals.principal` (and on the request scope, when one is open), or
 * answers with a SCIM Error: 401 for a missing or bad credential, 403 for a read-only credential on a
 * write, 503 when a JWT could not be checked because the JWKS is unreachable.
 */
export function createAuthMiddleware(authenticator: Authenticator, opts: AuthMiddlewareOptions = {}): RequestHandler {
  const realm = opts.realm ?? 'convertkit-scim';
  return async (req: Request, res: Response, next: NextFunction) => {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(req.headers.authorization);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      opts.onFailure?.(err.reason);
      if (err.status === 503) {
        sendScimError(res, 503, err.message, undefined, { 'Retry-After': '5' });
        return;
      }
      await opts.failureDelay?.failed(ip);
      // RFC 6750 §3: no error code when no credential was sent, invalid_token when one was.
      const challenge =
        err.reason === 'missing' ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`;
      sendScimError(res, 401, err.message, undefined, { 'WWW-Authenticate': challenge });
      return;
    }
    opts.failureDelay?.succeeded(ip);
    if (principal.readOnly && !isReadOnlyRequest(req)) {
      opts.onFailure?.('read_only');
      sendScimError(
        res,
        403,
        `The token "${principal.name}" is read-only; it cannot ${req.method} resources.`,
        undefined,
        {
          'WWW-Authenticate': `Bearer realm="${realm}", error="insufficient_scope", scope="${WRITE_SCOPE}"`,
        },
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
