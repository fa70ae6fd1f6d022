import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { type Clock, systemClock } from '../../platform/clock';
import type { BearerToken, JwtConfig } from '../../config/environment';
import type { Principal } from '../../platform/requestScope';

// Who is calling: static bearer tokens (optionally read-only) and JWTs verified against a JWKS.
// Nothing in this file ever puts the presented token into a message, a log field or a response.

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
  | 'read_only'
  /** Refused: the client has failed too often lately, and the credential is not a valid one (failureThrottle.ts). */
  | 'throttled'
  /** Refused unchecked: the caller's address is outside SCIM_IP_ALLOWLIST. */
  | 'ip_not_allowed'
  /** A credential of another tenant: answered 404, as if this tenant did not exist. */
  | 'other_tenant';

/** The scope a JWT must carry for write access. */
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
  /** JWT exp/nbf/iat are checked against its time. */
  clock?: Clock;
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
  private readonly clock: Clock;

  constructor(opts: AuthenticatorOptions) {
    this.clock = opts.clock ?? systemClock;
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
    if (token) return staticPrincipal(token);
    if (this.jwt && JWT_SHAPE.test(presented)) return this.verifyJwt(presented, this.jwt);
    throw new AuthenticationError('unknown_token', 'The bearer token is not recognised.');
  }

  /** The principal of a configured static bearer token, synchronously; undefined for anything else. */
  staticPrincipal(authorizationHeader: string | undefined): Principal | undefined {
    const presented = BEARER.exec(authorizationHeader ?? '')?.[1];
    const token = presented === undefined ? undefined : this.matchStaticToken(presented);
    return token && staticPrincipal(token);
  }

  /**
   * Whether the credential is a JWT whose unverified header and claims name this server's algorithms, issuer and
   * audience and have not expired: one worth verifying while its client is throttled (see failureThrottle.ts).
   * Anyone can write such claims; only the signature check tells whether they are true.
   */
  vouchesFor(authorizationHeader: string | undefined): boolean {
    const presented = BEARER.exec(authorizationHeader ?? '')?.[1];
    if (!this.jwt || presented === undefined || !JWT_SHAPE.test(presented)) return false;
    try {
      const { alg } = decodeProtectedHeader(presented);
      const { iss, aud, exp } = decodeJwt(presented);
      const audiences = Array.isArray(aud) ? aud : [aud];
      return (
        typeof alg === 'string' &&
        this.jwt.algorithms.includes(alg) &&
        iss === this.jwt.issuer &&
        audiences.includes(this.jwt.audience) &&
        typeof exp === 'number' &&
        exp + this.jwt.clockSkewSeconds > this.clock.now() / 1000
      );
    } catch {
      return false;
    }
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
        currentDate: new Date(this.clock.now()),
        // A token without exp would be valid forever once leaked (RFC 7519 §4.1.4 makes it optional; we do not).
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw jwtFailure(err);
    }
    // jose only checks that iat is a number unless maxTokenAge is set; a token "issued" beyond the tolerated
    // skew in the future comes from a broken or forging issuer, and would outlive its stated lifetime.
    if (typeof payload.iat === 'number' && payload.iat > this.clock.now() / 1000 + jwt.clockSkewSeconds) {
      throw new AuthenticationError('jwt_claims', 'The token was issued in the future.');
    }
    const subject = payload.sub!;
    return {
      name: `jwt:${subject}`,
      kind: 'jwt',
      subject,
      // Least privilege: only a token that states scim:write may change anything. A missing, null or
      // malformed scope claim reads as "no scopes", i.e. read-only, never as full access.
      readOnly: !scopesOf(payload).includes(WRITE_SCOPE),
    };
  }
}

function staticPrincipal(token: BearerToken): Principal {
  return { name: token.name, kind: 'token', readOnly: token.readOnly };
}

/** `scope` (RFC 8693, space-separated) or `scp` (Okta/Entra: a string or an array); empty when absent. */
function scopesOf(payload: JWTPayload): string[] {
  const claim = payload.scope ?? payload.scp;
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
      exp: 'The token has no expiry (exp) claim.',
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
