import type { Config } from '../config/environment';
import { doctorCli as doctorCliWith, type DoctorIo } from '../doctor/cli';
import { type DoctorOptions, type DoctorParts, type DoctorReport, runDoctor as runDoctorWith } from '../doctor/doctor';
import { KitClient } from '../kit/client';
import { createKitLimiter } from '../kit/limiter';
import { sharedTokenStore } from './sharedTokenStore';
import { SharedSlotBook, sharedSlots } from '../kit/slots';
import type { Clock } from '../platform/clock';
import { RedisLink } from '../platform/redisLink';
import type { RedisTopology } from '../platform/redisTopology';

// `convertkit-scim doctor`, wired: the Redis link, limiters, Kit clients and slot book its checks run on, built
// from the same classes and settings a replica uses, so what doctor proves holds for the server.

export const appDoctorParts: DoctorParts = {
  openRedis(topology: RedisTopology, config: Config, clock: Clock) {
    return new RedisLink({
      topology,
      replicaAckTimeoutMs: config.redis.replicaAckTimeoutMs,
      commandTimeoutMs: config.redis.commandTimeoutMs,
      probeIntervalMs: config.redis.probeIntervalMs,
      clock,
    });
  },

  // With Redis down the limiter books locally: the Redis check names that failure, the Kit checks should not fail
  // for it too.
  kitLimiter(id, config, link, clock) {
    return createKitLimiter({
      id,
      budget: config.kit.ratePerMinute,
      windowMs: config.kit.rateWindowMs,
      clock,
      slots:
        link?.healthy === true
          ? sharedSlots(link, {
              id,
              windowMs: config.kit.rateWindowMs,
              fallbackReplicas: Math.max(1, config.limiter.fallbackReplicas),
              keyTtlMs: config.limiter.keyTtlMs,
            })
          : undefined,
    });
  },

  kitClient(config, credentials, limiter, link, clock) {
    return new KitClient({
      baseUrl: config.kit.baseUrl,
      credentials,
      limiter,
      timeoutMs: config.kit.timeoutMs,
      tokenStore: sharedTokenStore(config.kit.baseUrl, credentials, link, clock),
    });
  },

  // One booking in the credential's shared book, as a replica's next Kit call would make; the Redis check reads
  // `shared` to tell a booking Redis took from one its fallback made.
  slotBook(link, target, config, clock) {
    return new SharedSlotBook({
      link,
      id: target.limiterId,
      spacingMs: target.spacingMs,
      windowMs: config.kit.rateWindowMs,
      clock,
      fallbackReplicas: 0,
      keyTtlMs: config.limiter.keyTtlMs,
    });
  },
};

/** The doctor checks on the process's own parts. */
export function runDoctor(env: Record<string, string | undefined>, opts: DoctorOptions = {}): Promise<DoctorReport> {
  return runDoctorWith(appDoctorParts, env, opts);
}

/** The `doctor` command line on the process's own parts. */
export function doctorCli(argv: string[], io: DoctorIo): Promise<number> {
  return doctorCliWith(argv, io, appDoctorParts);
}
