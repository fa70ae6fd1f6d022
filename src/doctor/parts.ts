import type { Clock } from '../platform/clock';
import type { Config, KitCredentials } from '../config/environment';
import type { KitClient } from '../kit/client';
import type { KitLimiter } from '../kit/limiter';
import type { SlotBook } from '../kit/slots';
import type { RedisLink } from '../platform/redisLink';
import type { RedisTopology } from '../platform/redisTopology';

// What doctor needs built for it: the same Redis link, limiter, Kit client and slot book a replica runs with.
// The process's wiring (src/app/) builds them; doctor only uses them, so its checks exercise the server's own
// parts without knowing how they are put together.

/** The limiter the Redis check books one slot in: a Kit credential's, as a replica would. */
export interface SlotTarget {
  limiterId: string;
  spacingMs: number;
}

/** A Kit credential doctor can check: its checks speak Kit v4, so never a v3 secret. */
export type CheckedCredentials = Exclude<KitCredentials, { kind: 'v3Secret' }>;

export interface DoctorParts {
  /** A link to the shared Redis (standalone, sentinel or cluster), with the server's command timeout and probe interval. */
  openRedis(topology: RedisTopology, config: Config, clock: Clock): RedisLink;
  /**
   * The limiter of one Kit credential (`id`: its limiter id), with `config`'s budget: the shared book in Redis
   * when `link` answers, else one in process.
   */
  kitLimiter(id: string, config: Config, link: RedisLink | undefined, clock: Clock): KitLimiter;
  /** A Kit client for a tenant's credential, behind `limiter`, keeping OAuth tokens where the server would. */
  kitClient(
    config: Config,
    credentials: CheckedCredentials,
    limiter: KitLimiter,
    link: RedisLink | undefined,
    clock: Clock,
  ): KitClient;
  /** The shared slot book of `target`'s limiter in Redis, booked without a local fallback. */
  slotBook(link: RedisLink, target: SlotTarget, config: Config, clock: Clock): SlotBook;
}
