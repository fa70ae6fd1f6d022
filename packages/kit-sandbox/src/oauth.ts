import { randomBytes } from 'node:crypto';
import type { Clock } from './clock';
import type { OAuthSnapshot } from './snapshot';

// Kit's OAuth (Doorkeeper): access tokens expire (expires_in 7200 on a refresh), and refresh tokens ROTATE:
// using one invalidates it and the access token issued with it, so a client must persist the new pair before
// anything else. Every access token belongs to the one sandbox account, which is also the rate-limit
// credential they share.

export interface OAuthOptions {
  clientId: string;
  clientSecret: string;
  accessToken?: string;
  refreshToken?: string;
  /** Default 7,200,000 (Kit's expires_in of 7200 s). */
  accessTokenTtlMs?: number;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  created_at: number;
  expires_in: number;
  scope: string;
}

export type TokenGrant =
  { ok: true; body: TokenResponse } | { ok: false; status: number; error: string; description: string };

export const DEFAULT_ACCESS_TOKEN_TTL_MS = 7_200_000;

const newToken = (): string => randomBytes(24).toString('base64url');

export class OAuthAuthority {
  /** access token → expiry (epoch ms). */
  private readonly access = new Map<string, number>();
  /** refresh token → the access token issued with it. */
  private readonly refresh = new Map<string, string>();
  private latestPair: { accessToken: string; refreshToken: string };
  private readonly ttlMs: number;

  constructor(
    private readonly options: OAuthOptions,
    private readonly now: Clock,
    private readonly onChange: () => void = () => {},
  ) {
    this.ttlMs = options.accessTokenTtlMs ?? DEFAULT_ACCESS_TOKEN_TTL_MS;
    const accessToken = options.accessToken ?? newToken();
    const refreshToken = options.refreshToken ?? newToken();
    this.access.set(accessToken, now() + this.ttlMs);
    this.refresh.set(refreshToken, accessToken);
    this.latestPair = { accessToken, refreshToken };
  }

  /** The most recently issued pair (the configured one until the first refresh). */
  latest(): { accessToken: string; refreshToken: string } {
    return { ...this.latestPair };
  }

  isValidAccessToken(token: string): boolean {
    const expiresAt = this.access.get(token);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.access.delete(token);
      return false;
    }
    return true;
  }

  /** POST /oauth/token with grant_type=refresh_token. */
  grant(params: Record<string, unknown>): TokenGrant {
    const grantType = params.grant_type;
    if (grantType !== 'refresh_token') {
      return {
        ok: false,
        status: 400,
        error: 'unsupported_grant_type',
        description: 'The authorization grant type is not supported by the authorization server.',
      };
    }
    const invalidClient = {
      ok: false as const,
      status: 401,
      error: 'invalid_client',
      description:
        'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
    };
    if (params.client_id !== this.options.clientId) return invalidClient;
    // Kit's documented refresh call sends only client_id; a secret, when sent, must be right.
    if (params.client_secret !== undefined && params.client_secret !== this.options.clientSecret) return invalidClient;
    const used = typeof params.refresh_token === 'string' ? params.refresh_token : '';
    const pairedAccess = this.refresh.get(used);
    if (pairedAccess === undefined) {
      return {
        ok: false,
        status: 401,
        error: 'invalid_grant',
        description:
          'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
      };
    }
    this.refresh.delete(used);
    this.access.delete(pairedAccess);
    const accessToken = newToken();
    const refreshToken = newToken();
    const now = this.now();
    this.access.set(accessToken, now + this.ttlMs);
    this.refresh.set(refreshToken, accessToken);
    this.latestPair = { accessToken, refreshToken };
    this.onChange();
    return {
      ok: true,
      body: {
        access_token: accessToken,
        refresh_token: refreshToken,
        token_type: 'bearer',
        created_at: Math.floor(now / 1000),
        expires_in: Math.round(this.ttlMs / 1000),
        scope: 'public',
      },
    };
  }

  /** Every current access token stops working; refresh tokens still do, so a client must refresh. */
  expireAccessTokens(): void {
    this.access.clear();
    this.onChange();
  }

  toSnapshot(): OAuthSnapshot {
    return { accessTokens: [...this.access.entries()], refreshTokens: [...this.refresh.entries()] };
  }

  /** Restores rotated tokens so a client's persisted pair still works after a sandbox restart. */
  loadSnapshot(snap: OAuthSnapshot): void {
    this.access.clear();
    this.refresh.clear();
    for (const [token, expiresAt] of snap.accessTokens) this.access.set(token, expiresAt);
    for (const [token, accessToken] of snap.refreshTokens) this.refresh.set(token, accessToken);
    const last = snap.refreshTokens[snap.refreshTokens.length - 1];
    if (last) this.latestPair = { accessToken: last[1], refreshToken: last[0] };
  }
}
