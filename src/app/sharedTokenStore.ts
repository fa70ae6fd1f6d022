import type { KitCredentials } from '../config/kitCredentials';
import { limiterIdFor } from '../kit/limiter';
import { RedisTokenStore } from '../kit/redisTokenStore';
import type { Clock } from '../platform/clock';
import type { RedisLink } from '../platform/redisLink';

/**
 * KIT_TOKEN_STORE=redis: OAuth tokens shared with the other replicas, keyed by the OAuth app, not the tenant, so
 * tenants on one app share its tokens (a refresh rotates them). Any other store is the Kit client's own default
 * (the KIT_TOKEN_STORE file), so this answers undefined.
 */
export function sharedTokenStore(
  baseUrl: string,
  credentials: KitCredentials,
  redis: RedisLink | undefined,
  clock: Clock,
): RedisTokenStore | undefined {
  if (credentials.kind !== 'oauth' || credentials.tokenStorePath !== 'redis' || !redis) return undefined;
  return new RedisTokenStore(redis, { id: limiterIdFor(baseUrl, credentials, 'oauth'), clock });
}
