// Where walk state and fetched Kit pages are kept between SCIM requests. In memory for one replica; in
// Redis (redisPageStore.ts) so that any replica can serve the next page of a walk.

/**
 * What a write invalidates: `users` (subscriber data, bumped by every user write) or `groups` (tag names and
 * memberships, bumped by every group write). Caches built before a bump are never served after it.
 */
export type CacheScope = 'users' | 'groups';

export interface PageStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  generation(scope: CacheScope): Promise<number>;
  /** The new generation, or undefined when it could not be bumped now (it will be, once it can). */
  bumpGeneration(scope: CacheScope): Promise<number | undefined>;
}

/**
 * Bounded LRU: at most `maxEntries` values (a value is one walk's bookkeeping or one Kit page of at most 1,000
 * subscribers), each dropped after `ttlSeconds`. The least recently used entry is evicted first. Values are
 * kept as JSON text, about a quarter of the memory parsed objects take (≈ 0.3 MB per page of 1,000), and a
 * caller can never mutate what the cache holds.
 */
export class MemoryPageStore implements PageStore {
  private readonly entries = new Map<string, { json: string; expiresAt: number }>();
  private readonly gens: Record<CacheScope, number> = { users: 0, groups: 0 };

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return JSON.parse(entry.json) as T;
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { json: JSON.stringify(value), expiresAt: this.now() + ttlSeconds * 1000 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  async generation(scope: CacheScope): Promise<number> {
    return this.gens[scope];
  }

  async bumpGeneration(scope: CacheScope): Promise<number | undefined> {
    this.gens[scope] += 1;
    return this.gens[scope];
  }

  get size(): number {
    return this.entries.size;
  }
}
