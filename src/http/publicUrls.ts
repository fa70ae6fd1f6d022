import type { Request } from 'express';
import type { PublicUrlConfig } from '../config/environment';

// Where Location and meta.location point. The Host header is the client's to write: reflected as is, a
// crafted Host puts an attacker's URL into responses an IdP stores and follows (and into anything that caches
// them). So an absolute URL is built from configuration (PUBLIC_BASE_URL), or from a Host on the operator's
// allow-list (SCIM_ALLOWED_HOSTS); otherwise the URL stays relative to this server, which is always right.

/**
 * The SCIM base URL for this request (`https://scim.example.com/scim/v2`, or `/scim/v2` when no absolute URL
 * can be trusted). `req.baseUrl` is the mount path of the SCIM router.
 */
export function scimBaseUrl(req: Request, config: PublicUrlConfig): string {
  if (config.baseUrl) return `${config.baseUrl}${req.baseUrl}`;
  // req.host is X-Forwarded-Host, and req.protocol X-Forwarded-Proto, only when trust proxy believes the hop.
  const host = req.host?.toLowerCase();
  if (host && config.allowedHosts.includes(host)) return `${req.protocol}://${host}${req.baseUrl}`;
  return req.baseUrl;
}
