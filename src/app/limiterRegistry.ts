import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import { createKitLimiter, type KitLimiter, type LimiterPriority, limiterIdFor } from '../kit/limiter';
import { sharedSlots } from '../kit/slots';
import type { RedisLink } from '../platform/redisLink';

// Kit limits per credential, not per tenant: two tenants configured with one Kit key spend one budget, so they
// must queue in one limiter (two limiters would each book the full 120 calls and Kit would answer 429s). The
// registry hands out the limiter of a credential, counting its users; the last one to leave stops it.

/** What a tenant hears of the limiter it uses (metrics, its status board); a shared limiter tells every user. */
export interface LimiterListener {
  onQueue(depth: number): void;
  onWait(waitedMs: number, priority: LimiterPriority): void;
}

export interface LimiterLease {
  readonly limiter: KitLimiter;
  /** Gives the limiter back; the last lease stops it (its queued calls answer a retryable 503). */
  release(): Promise<void>;
}

interface Entry {
  limiter: KitLimiter;
  /** One per lease (not per listener object: two leases may bring the same one), so the count is of users. */
  users: Set<{ listener: LimiterListener }>;
}

export interface LimiterRegistryDeps {
  clock: Clock;
  logger: Logger;
  redis?: RedisLink;
}

export class LimiterRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly deps: LimiterRegistryDeps) {}

  /**
   * The limiter for `config`'s Kit credential, created on first use with that config's budget. A later tenant
   * on the same credential shares it as it is: one credential has one budget, whoever asked first.
   */
  acquire(config: Config, listener: LimiterListener): LimiterLease {
    const credentials = config.kit.credentials;
    if (!credentials) throw new Error('a tenant needs Kit credentials');
    const id = limiterIdFor(config.kit.baseUrl, credentials);
    let entry = this.entries.get(id);
    if (!entry) {
      const users = new Set<{ listener: LimiterListener }>();
      entry = { limiter: this.create(id, config, users), users };
      this.entries.set(id, entry);
    }
    const user = { listener };
    entry.users.add(user);
    const held = entry;
    return {
      limiter: held.limiter,
      release: async () => {
        if (!held.users.delete(user)) return;
        if (held.users.size > 0) return;
        if (this.entries.get(id) === held) this.entries.delete(id);
        await held.limiter.stop();
      },
    };
  }

  /** How many limiters are in use (one per distinct Kit credential). */
  get size(): number {
    return this.entries.size;
  }

  /** Shutdown: every limiter stops at once, whoever still holds it. */
  async stopAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((e) => e.limiter.stop()));
  }

  /** The registry as shutdown sees it: one thing to stop. */
  stopping(): { stop(): Promise<void> } {
    return { stop: () => this.stopAll() };
  }

  private create(id: string, config: Config, users: Set<{ listener: LimiterListener }>): KitLimiter {
    const { clock, logger, redis } = this.deps;
    return createKitLimiter({
      id,
      budget: config.kit.ratePerMinute,
      windowMs: config.kit.rateWindowMs,
      clock,
      slots: redis
        ? sharedSlots(redis, {
            id,
            windowMs: config.kit.rateWindowMs,
            fallbackReplicas: config.limiter.fallbackReplicas,
            keyTtlMs: config.limiter.keyTtlMs,
            onFallback: (fallback, reason) =>
              fallback
                ? logger.warn(
                    { err: { message: reason }, fallbackReplicas: config.limiter.fallbackReplicas },
                    'shared Kit limiter unavailable; booking from the per-replica fallback budget',
                  )
                : logger.info('shared Kit limiter in use again'),
          })
        : undefined,
      onQueue: (depth) => {
        for (const u of users) u.listener.onQueue(depth);
      },
      onWait: (ms, priority) => {
        for (const u of users) u.listener.onWait(ms, priority);
      },
    });
  }
}
