import { createHash } from 'node:crypto';
import type { KitCredentials } from '../config/kitCredentials';
import { type OAuthTokenAnswer, oauthTokenAnswer } from './answers';
import { errorForNetwork, errorForStatus, errorForUnreadableAnswer } from './errorMapping';
import { KitAuthError, type KitError } from './errors';
import type { OAuthTokens, TokenStore } from './tokenStore';
import type { HttpExchange, KitRequest } from './request';
import type { Outcome } from './transport';

// How a request proves who we are to Kit, and how an OAuth session survives token expiry and rotation.

export interface Authenticator {
  /** Headers for one request. `version` identifies the credential used, for recover(). */
  current(): Promise<{ headers: Record<string, string>; version: string }>;
  /**
   * After a 401 answered to `version`: true when the caller may retry once with fresh credentials. Throws a
   * KitError when renewing failed.
   */
  recover(version: string): Promise<boolean>;
}

export class ApiKeyAuth implements Authenticator {
  constructor(private readonly apiKey: string) {}
  async current() {
    return { headers: { 'X-Kit-Api-Key': this.apiKey }, version: 'api-key' };
  }
  async recover(): Promise<boolean> {
    return false; // a rejected key stays rejected
  }
}

/** Sends POST /oauth/token once, through the client's transport so it is reported like every other call. */
export type TokenExchange = (req: HttpExchange) => Promise<Outcome>;

export const TOKEN_ENDPOINT = 'POST /oauth/token';

/**
 * The refresh, sent once: Kit rotates the refresh token, so after an attempt whose answer was lost the token may
 * be spent, and a repeat cannot be told apart from a replay. It bypasses the limiter (KitCaller.exchangeToken).
 */
function tokenRequest(body: Record<string, string>): KitRequest<OAuthTokenAnswer> {
  return {
    method: 'POST',
    endpoint: TOKEN_ENDPOINT,
    path: '/oauth/token',
    body,
    repeat: 'once',
    answer: oauthTokenAnswer,
  };
}

/**
 * Bearer tokens with Kit's refresh flow. Kit rotates refresh tokens (using one invalidates it and its access
 * token), so:
 * - concurrent 401s share ONE refresh (single flight); a second refresh with the consumed token would fail and
 *   lock us out;
 * - the new pair is persisted before any call uses it;
 * - on start the store wins over the configured tokens, unless the configured ones changed since the store was
 *   written (an operator re-authorised the app): the store remembers a fingerprint (`seed`) of the configured
 *   pair it descends from.
 */
export class OAuthSession implements Authenticator {
  private tokens: OAuthTokens | null = null;
  private loading?: Promise<void>;
  private refreshing?: Promise<void>;
  private readonly seed: string;

  constructor(
    private readonly credentials: Extract<KitCredentials, { kind: 'oauth' }>,
    private readonly exchange: TokenExchange,
    private readonly store?: TokenStore,
  ) {
    this.seed = fingerprint(credentials.accessToken, credentials.refreshToken);
  }

  get canRefresh(): boolean {
    return Boolean(this.tokens?.refreshToken && this.credentials.clientId);
  }

  async current() {
    await this.load();
    if (!this.tokens?.accessToken) await this.refreshOnce('');
    const accessToken = this.tokens!.accessToken;
    return { headers: { Authorization: `Bearer ${accessToken}` }, version: accessToken };
  }

  async recover(version: string): Promise<boolean> {
    await this.load();
    if (this.tokens && this.tokens.accessToken !== version) return true; // already renewed by another call
    if (!this.canRefresh) return false;
    await this.refreshOnce(version);
    return true;
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const configured: OAuthTokens | null = this.credentials.accessToken
        ? { accessToken: this.credentials.accessToken, refreshToken: this.credentials.refreshToken }
        : this.credentials.refreshToken
          ? { accessToken: '', refreshToken: this.credentials.refreshToken }
          : null;
      const stored = await this.store?.load();
      this.tokens = stored && (stored.seed === undefined || stored.seed === this.seed) ? stored : configured;
    })();
    // A store that could not be read (Redis away) is read again by the next call, not failed forever.
    this.loading.catch(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private refreshOnce(failedAccessToken: string): Promise<void> {
    if (this.tokens && this.tokens.accessToken !== failedAccessToken) return Promise.resolve();
    this.refreshing ??= this.refresh(failedAccessToken).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private refresh(failedAccessToken: string): Promise<void> {
    const run = () => this.refreshNow(failedAccessToken);
    return this.store?.exclusive ? this.store.exclusive(run) : run();
  }

  private async refreshNow(failedAccessToken: string): Promise<void> {
    // Another process sharing the store may have rotated already; its pair is the only valid one now.
    const stored = await this.store?.load().catch(() => null);
    if (stored && stored.seed === this.seed && stored.accessToken !== failedAccessToken) {
      this.tokens = stored;
      return;
    }
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken || !this.credentials.clientId) {
      throw new KitAuthError('Kit rejected the access token and no refresh token is configured', {
        status: 401,
        endpoint: TOKEN_ENDPOINT,
      });
    }
    const body: Record<string, string> = {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.credentials.clientId,
    };
    if (this.credentials.clientSecret) body.client_secret = this.credentials.clientSecret;
    const request = tokenRequest(body);
    const outcome = await this.exchange(request);
    if (outcome.kind === 'network') throw errorForNetwork(outcome.code, outcome.detail, TOKEN_ENDPOINT);
    if (outcome.status >= 200 && outcome.status < 300) {
      const answer = request.answer.safeParse(outcome.data);
      if (!answer.success) throw errorForUnreadableAnswer(outcome.status, TOKEN_ENDPOINT, answer.error.issues);
      const next: OAuthTokens = {
        accessToken: answer.data.access_token,
        refreshToken: answer.data.refresh_token ?? refreshToken,
        seed: this.seed,
        rotatedAt: new Date().toISOString(),
      };
      // Persist first: the old refresh token is already dead, losing the new one would lock us out.
      await this.store?.save(next);
      this.tokens = next;
      return;
    }
    throw refreshFailure(outcome.status, outcome.data);
  }
}

function refreshFailure(status: number, data: unknown): KitError {
  const mapped = errorForStatus(status, data, TOKEN_ENDPOINT);
  if (status >= 500 || status === 429) return mapped;
  return new KitAuthError(`Kit refused to refresh the OAuth access token (${status})`, {
    status,
    errors: mapped.errors,
    endpoint: TOKEN_ENDPOINT,
  });
}

function fingerprint(accessToken?: string, refreshToken?: string): string {
  return createHash('sha256')
    .update(`${accessToken ?? ''}\n${refreshToken ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}

/** Kit v3: the api_secret is a parameter each v3 resource adds itself (src/kit/v3/signing.ts); no header. */
export class ParameterAuth implements Authenticator {
  async current() {
    return { headers: {}, version: 'v3-secret' };
  }
  async recover(): Promise<boolean> {
    return false;
  }
}

export function authenticatorFor(
  credentials: KitCredentials,
  exchange: TokenExchange,
  store?: TokenStore,
): Authenticator {
  if (credentials.kind === 'v3Secret') return new ParameterAuth();
  return credentials.kind === 'apiKey'
    ? new ApiKeyAuth(credentials.apiKey)
    : new OAuthSession(credentials, exchange, store);
}
