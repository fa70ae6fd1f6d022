import Redis from 'ioredis';
import { RedisLink } from '../../../src/platform/redisLink';
import { RedisPageStore } from '../../../src/scim/paging/redisPageStore';
import { eventually, hasRedisServer, PrivateRedis } from '../../support/privateRedis';
import { describeRedis, redisUrl } from '../../support/redis';
import { freePort } from '../../support/serverProcess';
import { unique } from '../../support/unique';

describeRedis('RedisPageStore against real Redis', () => {
  let redis: Redis;
  const prefix = `test:${process.pid}:${unique()}:`;
  beforeAll(() => {
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('shares values and generations between two stores (two replicas)', async () => {
    const [la, lb] = [new RedisLink({ url: redisUrl! }), new RedisLink({ url: redisUrl! })];
    await Promise.all([la.waitHealthy(5000), lb.waitHealthy(5000)]);
    const a = new RedisPageStore(la, prefix);
    const b = new RedisPageStore(lb, prefix);
    try {
      await a.set('walk:1', { pages: [1, 2] }, 30);
      expect(await b.get('walk:1')).toEqual({ pages: [1, 2] });
      expect(await redis.ttl(`${prefix}walk:1`)).toBeGreaterThan(0);
      const before = await b.generation('users');
      await a.bumpGeneration('users');
      expect(await b.generation('users')).toBe(before + 1);
      // A generation never starts at 0: see the restart test below.
      expect(await b.generation('groups')).toBeGreaterThan(0);
    } finally {
      await Promise.all([la.close(), lb.close()]);
    }
  });
});

describeRedis('RedisPageStore decodes each value once per replica', () => {
  const prefix = `test:decoded:${unique()}:`;

  it('reuses what it decoded while Redis holds the same text, and sees another replica’s write at once', async () => {
    const [la, lb] = [new RedisLink({ url: redisUrl! }), new RedisLink({ url: redisUrl! })];
    await Promise.all([la.waitHealthy(5000), lb.waitHealthy(5000)]);
    const a = new RedisPageStore(la, prefix);
    const b = new RedisPageStore(lb, prefix);
    try {
      await a.set('p0', [{ id: 1 }], 30);
      const first = await b.get<Array<{ id: number }>>('p0');
      expect(await b.get('p0')).toBe(first);
      expect(Object.isFrozen(first![0])).toBe(true);
      await a.set('p0', [{ id: 2 }], 30);
      expect(await b.get('p0')).toEqual([{ id: 2 }]);
    } finally {
      const raw = new Redis(redisUrl!);
      await raw.del(`${prefix}p0`);
      raw.disconnect();
      await Promise.all([la.close(), lb.close()]);
    }
  });

  it('keeps at most maxDecoded values decoded, the least recently read dropped first', async () => {
    const link = new RedisLink({ url: redisUrl! });
    await link.waitHealthy(5000);
    const store = new RedisPageStore(link, prefix, () => {}, 2);
    try {
      for (const key of ['d1', 'd2', 'd3']) await store.set(key, { key }, 30);
      const d1 = await store.get('d1');
      const d2 = await store.get('d2');
      expect(await store.get('d1')).toBe(d1); // d1 is now the most recently read
      await store.get('d3'); // evicts d2
      expect(await store.get('d1')).toBe(d1);
      const d2Again = await store.get('d2');
      expect(d2Again).toEqual(d2);
      expect(d2Again).not.toBe(d2);
    } finally {
      const raw = new Redis(redisUrl!);
      await raw.del(`${prefix}d1`, `${prefix}d2`, `${prefix}d3`);
      raw.disconnect();
      await link.close();
    }
  });
});

describe('RedisPageStore with Redis unreachable', () => {
  it('fails safe: misses, drops writes, and never repeats a generation', async () => {
    const port = await freePort();
    const dead = new RedisLink({ url: `redis://127.0.0.1:${port}` });
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
      await dead.close();
    }
  });
});

(hasRedisServer ? describe : describe.skip)('RedisPageStore across Redis faults', () => {
  let redis: PrivateRedis;
  let link: RedisLink;
  beforeEach(async () => {
    redis = await PrivateRedis.start();
    link = new RedisLink({ url: redis.url, commandTimeoutMs: 200, probeIntervalMs: 100 });
    await link.waitHealthy(5000);
  });
  afterEach(async () => {
    await link.close();
    await redis.stop();
  });

  it('a Redis restarted empty never hands out a generation a replica cached under before', async () => {
    const store = new RedisPageStore(link, 'p:');
    const before = await store.generation('users');
    await redis.restart();
    await eventually(async () => link.healthy && (await store.generation('users')) > 0);
    expect(await store.generation('users')).not.toBe(before);
  });

  it('a bump lost while Redis was away is written once it answers; no cache is used until then', async () => {
    const store = new RedisPageStore(link, 'p:');
    const before = await store.generation('groups');
    redis.pause();
    try {
      await store.bumpGeneration('groups'); // times out: remembered
      expect(store.healthy).toBe(false);
      expect(await store.generation('groups')).toBeLessThan(0);
    } finally {
      redis.resume();
    }
    await eventually(() => store.healthy);
    // The timed-out INCR may also land once Redis resumes: one bump more is harmless, one less is not.
    expect(await store.generation('groups')).toBeGreaterThan(before);
    await store.set('k', { v: 1 }, 10);
    expect(await store.get('k')).toEqual({ v: 1 });
  });
});
