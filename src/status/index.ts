import type { Router } from 'express';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { FailureThrottle } from '../platform/failureThrottle';
import type { Readiness } from '../platform/readiness';
import type { RedisLink } from '../platform/redisLink';
import type { RedisTopologyState } from '../platform/redisTopology';
import type { KitLimiter } from '../kit/limiter';
import { bookedPerMinute } from '../kit/slots';
import { ReplicaRoster, replicaRowOf } from './fleet';
import { statusRoutes } from './statusRoutes';
import type { StatusBoard } from './statusBoard';
import { StatusSessions } from './statusSession';

// The operator's status page, assembled from one Config: the composition root only hands over the
// parts it already has.
export { StatusBoard } from './statusBoard';
export { StatusSessions } from './statusSession';
export { statusChooser } from './statusChooser';
export { replicaName } from './replica';

import { replicaName } from './replica';

export interface StatusPage {
  router: Router;
  sessions: StatusSessions;
  /** Publishes this replica's row to the fleet (with Redis) until stop(). */
  start(): void;
  stop(): void;
}

export function createStatusPage(opts: {
  config: Config;
  board: StatusBoard;
  readiness: Readiness;
  limiter: KitLimiter;
  clock: Clock;
  /** This process's name in the fleet's rows (replicaName()). */
  replica?: string;
  /** The tenant's id on a server with a tenants file: named on its pages. */
  tenant?: string;
  /** The shared store: the fleet's figures are read from it and this replica's row is published to it. */
  redis?: { link: RedisLink; prefix: string };
  /** The shared Redis's mode, primary or shard count, and whether it is failing over. */
  redisState?: () => RedisTopologyState;
  failureThrottle?: FailureThrottle;
  onLoginFailure?: (reason: 'unknown_token' | 'throttled') => void;
}): StatusPage {
  const { config, redis } = opts;
  const sessions = new StatusSessions(config.scim.bearerTokens, {
    ttlSeconds: config.status.sessionTtlSeconds,
    clock: opts.clock,
  });
  const replica = opts.replica ?? replicaName();
  const roster = redis
    ? new ReplicaRoster({
        link: redis.link,
        prefix: redis.prefix,
        clock: opts.clock,
        row: () => replicaRowOf({ replica, board: opts.board, limiter: opts.limiter, readiness: opts.readiness }),
      })
    : undefined;
  const router = statusRoutes({
    board: opts.board,
    sessions,
    readiness: opts.readiness,
    limiter: opts.limiter,
    tenant: opts.tenant,
    replica,
    // The budget holds per KIT_RATE_WINDOW_MS; the chart counts per minute.
    budgetPerMinute: Math.floor((config.kit.ratePerMinute * 60_000) / config.kit.rateWindowMs),
    sharedLimiterConfigured: Boolean(config.redisTopology),
    fleet:
      redis && roster
        ? {
            replicas: async () => {
              // The answering replica's own row is as fresh as the page.
              await roster.publish();
              return roster.rows();
            },
            booked: () => bookedPerMinute(redis.link, opts.limiter.id),
          }
        : undefined,
    redisState: opts.redisState,
    failureThrottle: opts.failureThrottle,
    publicBaseUrl: config.publicUrls.baseUrl,
    onLoginFailure: opts.onLoginFailure,
  });
  return {
    router,
    sessions,
    start: () => roster?.start(),
    stop: () => roster?.stop(),
  };
}
