import type { IncomingHttpHeaders } from 'node:http';
import type { AccountDirectory } from './accountDirectory';
import { credentialLabel } from './callLog';
import type { HostedAccount } from './hostedAccount';
import type { OAuthAuthority } from './oauth';

// Kit v4 takes an API key in X-Kit-Api-Key or an OAuth access token as `Authorization: Bearer`. An API key sent
// as a Bearer token is refused, as Kit does: that is the v3/v4 mix-up the integration notes warn about.
// The rate window is per credential: the API key, or the OAuth account (all its access tokens share one).
// The key says which hosted account is calling; OAuth tokens are issued for the default account only.

export interface Caller {
  /** Rate-window key; never logged. */
  key: string;
  /** Short non-secret label for the call log. */
  label: string;
  /** The account the credential belongs to. */
  account: HostedAccount;
}

export const OAUTH_ACCOUNT_KEY = 'oauth-account';

export class KitCredentials {
  constructor(
    private readonly accounts: AccountDirectory,
    private readonly oauth: OAuthAuthority | null,
    private readonly oauthAccount: HostedAccount,
  ) {}

  identify(headers: IncomingHttpHeaders): Caller | null {
    const key = headers['x-kit-api-key'];
    const account = typeof key === 'string' ? this.accounts.byApiKey(key) : undefined;
    if (account) return { key: `api-key:${key}`, label: credentialLabel('key', key as string), account };
    const bearer = bearerToken(headers);
    if (bearer && this.oauth?.isValidAccessToken(bearer)) {
      return { key: OAUTH_ACCOUNT_KEY, label: credentialLabel('oauth', OAUTH_ACCOUNT_KEY), account: this.oauthAccount };
    }
    return null;
  }

  /** For a refused call: the account the presented (revoked) key was issued to, if any. */
  claimedAccount(headers: IncomingHttpHeaders): HostedAccount | undefined {
    const key = headers['x-kit-api-key'];
    return typeof key === 'string' ? this.accounts.owner(key) : undefined;
  }

  /** A label for a refused call: which (wrong) credential was presented, without revealing it. */
  presentedLabel(headers: IncomingHttpHeaders): string {
    const key = headers['x-kit-api-key'];
    if (typeof key === 'string' && key) return credentialLabel('bad-key', key);
    const bearer = bearerToken(headers);
    if (bearer) return credentialLabel('bad-token', bearer);
    return 'none';
  }
}

function bearerToken(headers: IncomingHttpHeaders): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return m ? m[1] : null;
}
