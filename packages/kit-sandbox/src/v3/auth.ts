import type { AccountDirectory } from '../accountDirectory';
import { credentialLabel } from '../callLog';
import type { Caller } from '../credentials';
import type { HostedAccount } from '../hostedAccount';

// Kit v3 authenticates by a parameter, never a header: `api_secret` (every call) or `api_key` (a few reads and
// the subscribe calls), in the query string or the JSON body. Kit meters 120 calls per rolling 60 s per key.
// Each hosted account has its own secret; its v4 API key doubles as its v3 api_key.

/** Endpoints Kit v3 also answers for the public api_key (docs: "All calls that require api_key…"). */
export const V3_API_KEY_ENDPOINTS = new Set([
  'GET /v3/tags',
  'GET /v3/custom_fields',
  'POST /v3/tags/:tag_id/subscribe',
]);

export class V3Credentials {
  constructor(private readonly accounts: AccountDirectory) {}

  identify(endpoint: string, query: URLSearchParams, body: Record<string, unknown>): Caller | null {
    const secret = param('api_secret', query, body);
    const bySecret = secret === undefined ? undefined : this.accounts.byApiSecret(secret);
    if (bySecret)
      return { key: `v3-secret:${secret}`, label: credentialLabel('v3-secret', secret!), account: bySecret };
    const key = param('api_key', query, body);
    const byKey = key === undefined || !V3_API_KEY_ENDPOINTS.has(endpoint) ? undefined : this.accounts.byApiKey(key);
    if (byKey) return { key: `v3-key:${key}`, label: credentialLabel('v3-key', key!), account: byKey };
    return null;
  }

  /** For a refused call: the account the presented (revoked) secret or key was issued to, if any. */
  claimedAccount(query: URLSearchParams, body: Record<string, unknown>): HostedAccount | undefined {
    return this.accounts.owner(param('api_secret', query, body)) ?? this.accounts.owner(param('api_key', query, body));
  }

  presentedLabel(query: URLSearchParams, body: Record<string, unknown>): string {
    const secret = param('api_secret', query, body);
    if (secret) return credentialLabel('bad-v3-secret', secret);
    const key = param('api_key', query, body);
    return key ? credentialLabel('bad-v3-key', key) : 'none';
  }

  /** Kit's words for a refused v3 call. */
  refusal(query: URLSearchParams, body: Record<string, unknown>): string {
    return param('api_secret', query, body) || param('api_key', query, body)
      ? 'You do not have sufficient permissions to access this resource'
      : 'API Key not present';
  }
}

function param(name: string, query: URLSearchParams, body: Record<string, unknown>): string | undefined {
  const fromQuery = query.get(name);
  if (fromQuery) return fromQuery;
  const fromBody = body[name];
  return typeof fromBody === 'string' && fromBody !== '' ? fromBody : undefined;
}

/** Kit v3's error body: `{"error", "message"}` instead of v4's `{"errors": [...]}`. */
export function v3ErrorBody(status: number, messages: string[]): { error: string; message: string } {
  const error =
    status === 401
      ? 'Authorization Failed'
      : status === 404
        ? 'Not Found'
        : status === 422
          ? 'Unprocessable Entity'
          : status === 429
            ? 'Too Many Requests'
            : status >= 500
              ? 'Internal Server Error'
              : 'Bad Request';
  return { error, message: messages.join('; ') };
}
