import type { Router } from 'express';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { FailureThrottle } from '../platform/failureThrottle';
import type { Readiness } from '../platform/readiness';
import type { RedisTopologyState } from '../platform/redisTopology';
import type { KitLimiter } from '../kit/limiter';
import { statusRoutes } from './statusRoutes';
import type { StatusBoard } from './statusBoard';
import { StatusSessions } from './statusSession';

// The operator's status page, assembled from one Config: the composition root only hands over the
// parts it already has.
export { StatusBoard } from './statusBoard';

export function createStatusPage(opts: {
  config: Config;
  board: StatusBoard;
  readiness: Readiness;
  limiter: KitLimiter;
  clock: Clock;
  /** The shared Redis's mode, primary or shard count, and whether it is failing over. */
  redisState?: () => RedisTopologyState;
  failureThrottle?: FailureThrottle;
  onLoginFailure?: (reason: 'unknown_token' | 'throttled') => void;
}): Router {
  const { config } = opts;
  return statusRoutes({
    board: opts.board,
    sessions: new StatusSessions(config.scim.bearerTokens, {
      ttlSeconds: config.status.sessionTtlSeconds,
      clock: opts.clock,
    }),
    readiness: opts.readiness,
    limiter: opts.limiter,
    // The budget holds per KIT_RATE_WINDOW_MS; the chart counts per minute.
    budgetPerMinute: Math.floor((config.kit.ratePerMinute * 60_000) / config.kit.rateWindowMs),
    sharedLimiterConfigured: Boolean(config.redisTopology),
    redisState: opts.redisState,
    failureThrottle: opts.failureThrottle,
    publicBaseUrl: config.publicUrls.baseUrl,
    onLoginFailure: opts.onLoginFailure,
  });
}
