import type Redis from 'ioredis';
import type { CacheScope, PageStore } from './pageStore';

// Walk state and Kit pages in Redis, so any replica behind the load balancer can serve the next page of a
// walk another replica started. Memory is bounded in time: every entry expires after its TTL (a page holds at
// most 1,000 subscribers), and an operator can cap Redis itself (maxmemory + allkeys-lru) on top.
//
// Fail safe: when Redis errors, this store serves no cache at all — reads miss, writes are dropped, and every
// generation read is unique so nothing cached locally is ever reused. Answers stay exact; they just cost the
// Kit calls a cold walk costs, until Redis answers again.

export class RedisPageStore implements PageStore {
  private failures = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  private fail(err: unknown): void {
    this.failures += 1;
    this.onError(err as Error);
  }

  get healthy(): boolean {
    return this.redis.status === 'ready';
  }

  async get<T>(key: string): Promise<T | undefined> {
    try {
      const raw = await this.redis.get(`${this.prefix}${key}`);
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    try {
      await this.redis.set(`${this.prefix}${key}`, JSON.stringify(value), 'EX', ttlSeconds);
    } catch (err) {
      this.fail(err);
    }
  }

  async generation(scope: CacheScope): Promise<number> {
    try {
      return Number((await this.redis.get(`${this.prefix}gen:${scope}`)) ?? 0);
    } catch (err) {
      this.fail(err);
      // Never equal to a generation anything was cached under: no stale reuse while Redis is away.
      return -Date.now() - this.failures;
    }
  }

  async bumpGeneration(scope: CacheScope): Promise<void> {
    try {
      await this.redis.incr(`${this.prefix}gen:${scope}`);
    } catch (err) {
      this.fail(err);
    }
  }
}
