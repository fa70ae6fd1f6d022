import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../platform/clock';
import type { BearerToken } from '../config/environment';

// The status page's session: a bearer token the server already knows is exchanged, once, for a short-lived
// cookie. The cookie is stateless (a payload and its HMAC), so any replica with the same configuration accepts
// it and nothing has to be stored or shared. The HMAC key is derived from the very token that logged in: the
// cookie never contains the token, cannot be forged without it, and dies with it when the token is removed from
// the configuration.

export const STATUS_COOKIE = 'kscim_status';
const KEY_LABEL = 'convertkit-scim status session v1';

export interface StatusSession {
  /** The token's configured name, shown on the page; never the token. */
  name: string;
  readOnly: boolean;
  expiresAt: number;
}

interface Payload {
  n: string;
  r: 0 | 1;
  /** Expiry, epoch seconds. */
  e: number;
  /** A nonce, so two logins in the same second get different cookies. */
  i: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class StatusSessions {
  private readonly tokens: Array<{ digest: Buffer; token: BearerToken }>;

  constructor(
    tokens: readonly BearerToken[],
    private readonly opts: { ttlSeconds: number; clock: Clock },
  ) {
    this.tokens = tokens.map((token) => ({ digest: digest(token.token), token }));
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  /**
   * The configured token equal to `presented`, comparing digests of every configured token without stopping
   * early (as the SCIM authenticator does), so timing tells nothing about which one matched.
   */
  match(presented: string): BearerToken | undefined {
    const wanted = digest(presented);
    let found: BearerToken | undefined;
    for (const candidate of this.tokens) {
      if (timingSafeEqual(candidate.digest, wanted) && !found) found = candidate.token;
    }
    return found;
  }

  /** A cookie value for a session of `token`, valid for ttlSeconds from now. */
  issue(token: BearerToken): string {
    const payload: Payload = {
      n: token.name,
      r: token.readOnly ? 1 : 0,
      e: Math.floor(this.opts.clock.now() / 1000) + this.opts.ttlSeconds,
      i: randomBytes(9).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return `${body}.${this.sign(body, token.token)}`;
  }

  /** The session a cookie value stands for, or undefined when it is malformed, forged or expired. */
  verify(cookie: string | undefined): StatusSession | undefined {
    if (!cookie || cookie.length > 1024) return undefined;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return undefined;
    const body = cookie.slice(0, dot);
    const mac = Buffer.from(cookie.slice(dot + 1), 'base64url');
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return undefined;
    }
    if (typeof payload?.n !== 'string' || typeof payload.e !== 'number') return undefined;
    if (payload.e * 1000 <= this.opts.clock.now()) return undefined;
    // Token names need not be unique in the configuration: any token of that name that signed it will do.
    for (const { token } of this.tokens) {
      if (token.name !== payload.n || token.readOnly !== (payload.r === 1)) continue;
      const expected = Buffer.from(this.sign(body, token.token), 'base64url');
      if (expected.length === mac.length && timingSafeEqual(expected, mac)) {
        return { name: token.name, readOnly: token.readOnly, expiresAt: payload.e * 1000 };
      }
    }
    return undefined;
  }

  private sign(body: string, token: string): string {
    const key = createHmac('sha256', token).update(KEY_LABEL).digest();
    return createHmac('sha256', key).update(body).digest('base64url');
  }
}
