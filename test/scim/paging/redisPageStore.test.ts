import Redis from 'ioredis';
import { RedisPageStore } from '../../../src/scim/paging/redisPageStore';
import { describeRedis, redisUrl } from '../../support/redis';
import { freePort } from '../../support/serverProcess';

describeRedis('RedisPageStore against real Redis', () => {
  let redis: Redis;
  const prefix = `test:${process.pid}:${Date.now()}:`;
  beforeAll(() => {
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('shares values and generations between two stores (two replicas)', async () => {
    const a = new RedisPageStore(redis, prefix);
    const other = new Redis(redisUrl!);
    const b = new RedisPageStore(other, prefix);
    try {
      await a.set('walk:1', { pages: [1, 2] }, 30);
      expect(await b.get('walk:1')).toEqual({ pages: [1, 2] });
      expect(await redis.ttl(`${prefix}walk:1`)).toBeGreaterThan(0);
      const before = await b.generation('users');
      await a.bumpGeneration('users');
      expect(await b.generation('users')).toBe(before + 1);
      expect(await b.generation('groups')).toBe(0);
    } finally {
      other.disconnect();
    }
  });
});

describe('RedisPageStore with Redis unreachable', () => {
  it('fails safe: misses, drops writes, and never repeats a generation', async () => {
    const port = await freePort();
    const dead = new Redis(`redis://127.0.0.1:${port}`, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const errors: Error[] = [];
    const store = new RedisPageStore(dead, 'x:', (e) => errors.push(e));
    try {
      await store.set('k', { a: 1 }, 10);
      expect(await store.get('k')).toBeUndefined();
      const g1 = await store.generation('users');
      const g2 = await store.generation('users');
      expect(g1).not.toBe(g2);
      expect(g1).toBeLessThan(0);
      await expect(store.bumpGeneration('users')).resolves.toBeUndefined();
      expect(errors.length).toBeGreaterThanOrEqual(4);
      expect(store.healthy).toBe(false);
    } finally {
      dead.disconnect();
    }
  });
});
