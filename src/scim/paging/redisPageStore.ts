import { LRUCache } from 'lru-cache';
import { randomInt } from 'node:crypto';
import type { RedisLink } from '../../platform/redisLink';
import { type CacheScope, deepFreeze, type PageStore } from './pageStore';

// Walk state and Kit pages in Redis, so any replica behind the load balancer can serve the next page of a
// walk another replica started. Memory is bounded in time: every entry expires after its TTL (a page holds at
// most 1,000 subscribers), and an operator can cap Redis itself (maxmemory + allkeys-lru) on top.
//
// Fail safe: while Redis is away (the link says so at once, see redisLink.ts), this store serves no cache at
// all — reads miss, writes are dropped, and every generation read is unique so nothing cached locally is ever
// reused. Answers stay exact; they just cost the Kit calls a cold walk costs, until Redis answers again.
//
// Heals without a restart:
// - a generation bump that could not be written is remembered and written as soon as Redis answers; until
//   then this replica uses no cache, so a write it made is never hidden behind its own stale pages;
// - a generation key that went missing (Redis restarted empty, FLUSHALL) is re-created at a random value, never
//   at 0 again, so a replica's local cache built under an old generation can never match it by accident.

const GENERATION_LUA = `
local g = redis.call('GET', KEYS[1])
if not g then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
if ARGV[2] == 'bump' then return redis.call('INCR', KEYS[1]) end
return g`;

type GenerationClient = { kscimGeneration(key: string, seed: string, mode: string): Promise<string | number> };

export class RedisPageStore implements PageStore {
  private failures = 0;
  private readonly pendingBumps = new Set<CacheScope>();
  /**
   * Values this replica decoded, by key, with the text they came from: a Kit page of 1,000 is ~0.3 MB
   * of JSON, and parsing it again for every SCIM page of 100 cost more than the rest of the request. Redis stays
   * the one source of truth (every get still reads it, so another replica's write is seen at once); only the
   * parse is skipped when the text is the one decoded before. Bounded LRU; values are deep-frozen.
   */
  private readonly decoded: LRUCache<string, { raw: string; value: unknown }>;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly onError: (err: Error) => void = () => {},
    maxDecoded = 40,
  ) {
    this.decoded = new LRUCache({ max: maxDecoded });
    if (!('kscimGeneration' in link.client)) {
      link.client.defineCommand('kscimGeneration', { numberOfKeys: 1, lua: GENERATION_LUA });
    }
    link.onRecovery(() => void this.flushPendingBumps());
  }

  private fail(err: unknown): void {
    this.failures += 1;
    this.onError(err as Error);
  }

  get healthy(): boolean {
    return this.link.healthy && this.pendingBumps.size === 0;
  }

  async get<T>(key: string): Promise<T | undefined> {
    try {
      const raw = await this.link.run((c) => c.get(`${this.prefix}${key}`));
      if (raw === null) {
        this.decoded.delete(key);
        return undefined;
      }
      return this.decode(key, raw) as T;
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  private decode(key: string, raw: string): unknown {
    const known = this.decoded.get(key);
    if (known && known.raw === raw) return known.value;
    const value = deepFreeze(JSON.parse(raw));
    this.decoded.set(key, { raw, value });
    return value;
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    try {
      const raw = JSON.stringify(value);
      this.decoded.delete(key);
      await this.link.run((c) => c.set(`${this.prefix}${key}`, raw, 'EX', ttlSeconds));
    } catch (err) {
      this.fail(err);
    }
  }

  async generation(scope: CacheScope): Promise<number> {
    if (this.pendingBumps.size === 0) {
      try {
        return Number(await this.generationCommand(scope, 'read'));
      } catch (err) {
        this.fail(err);
      }
    }
    // Never equal to a generation anything was cached under: no stale reuse while Redis is away.
    this.failures += 1;
    return -Date.now() - this.failures;
  }

  async bumpGeneration(scope: CacheScope): Promise<number | undefined> {
    try {
      return Number(await this.generationCommand(scope, 'bump'));
    } catch (err) {
      this.pendingBumps.add(scope);
      this.fail(err);
      return undefined;
    }
  }

  private generationCommand(scope: CacheScope, mode: 'read' | 'bump'): Promise<string | number> {
    const seed = String(randomInt(1, 2 ** 47));
    return this.link.run((c) =>
      (c as unknown as GenerationClient).kscimGeneration(`${this.prefix}gen:${scope}`, seed, mode),
    );
  }

  private async flushPendingBumps(): Promise<void> {
    for (const scope of [...this.pendingBumps]) {
      try {
        await this.generationCommand(scope, 'bump');
        this.pendingBumps.delete(scope);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }
}
