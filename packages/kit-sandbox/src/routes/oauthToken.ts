import type { OAuthAuthority } from '../oauth';
import type { Route } from '../router';

/** POST /oauth/token (refresh grant). OAuth errors use the OAuth body shape, not Kit's {errors:[…]}. */
export function oauthTokenRoutes(oauth: OAuthAuthority | null): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/oauth/token',
      handle: ({ body }) => {
        if (!oauth) {
          return {
            status: 401,
            body: { error: 'invalid_client', error_description: 'OAuth is not configured on this sandbox.' },
          };
        }
        const grant = oauth.grant(body);
        if (grant.ok) return { status: 200, body: grant.body, headers: { 'cache-control': 'no-store' } };
        return { status: grant.status, body: { error: grant.error, error_description: grant.description } };
      },
    },
  ];
}
