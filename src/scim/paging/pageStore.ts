import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../../platform/clock';

// Where walk state and fetched Kit pages are kept between SCIM requests. In memory for one replica; in
// Redis (redisPageStore.ts) so that any replica can serve the next page of a walk.

/**
 * What a write invalidates: `users` (subscriber data, bumped by every user write) or `groups` (tag names and
 * memberships, bumped by every group write). Caches built before a bump are never served after it.
 */
export type CacheScope = 'users' | 'groups';

export interface PageStore {
  /** What `get` answers is read-only (deep-frozen); `set` may freeze the value it is given. */
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  generation(scope: CacheScope): Promise<number>;
  /** The new generation, or undefined when it could not be bumped now (it will be, once it can). */
  bumpGeneration(scope: CacheScope): Promise<number | undefined>;
}

/**
 * Bounded LRU: at most `maxEntries` values (a value is one walk's bookkeeping or one Kit page of at most 1,000
 * subscribers), each dropped after `ttlSeconds`. The least recently used entry is evicted first. Values are
 * deep-frozen in place when stored (the store takes them over: copying a page of 1,000 cost ~10 ms per Kit page)
 * and handed out as they are: no JSON.parse per request (that costs ~3 ms of a
 * 100-user page), and nobody can mutate what the cache holds. A decoded page of 1,000 subscribers takes ≈ 1 MB,
 * so the default bound (40) keeps the cache under ≈ 40 MB.
 */
export class MemoryPageStore implements PageStore {
  private readonly entries: LRUCache<string, object>;
  private readonly gens: Record<CacheScope, number> = { users: 0, groups: 0 };

  constructor(maxEntries: number, clock: Clock = systemClock) {
    // Expiry is checked on read against the clock (no timers): a stale entry is never served.
    this.entries = new LRUCache({ max: maxEntries, perf: clock, ttlResolution: 0 });
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (this.entries.get(key) as Boxed | undefined)?.value as T | undefined;
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    const boxed: Boxed = { value: deepFreeze(value) };
    this.entries.set(key, boxed, { ttl: ttlSeconds * 1000 });
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

/** lru-cache keeps objects only; a page store keeps any JSON value (a generation count, a cursor string). */
type Boxed = { value: unknown };

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
