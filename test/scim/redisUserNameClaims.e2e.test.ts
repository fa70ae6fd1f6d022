import { createHash } from 'node:crypto';
import pino from 'pino';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { RedisUserNameClaims, type RedisUserNameClaimsOptions } from '../../src/scim/redisUserNameClaims';
import { hasRedisServer, PrivateRedis } from '../support/privateRedis';

// userName claims shared by the replicas on one Redis: a second replica's write of the same name waits for the
// first's to end (its lease renewed while it runs); a lease left by a stopped holder expires; a write goes
// ahead on its own replica's claim when Redis is away or a lease outlives the wait.

const PREFIX = 'test:claims:';
const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(hasRedisServer ? describe : describe.skip)('RedisUserNameClaims', () => {
  let redis: PrivateRedis;
  const links: RedisLink[] = [];

  beforeEach(async () => {
    redis = await PrivateRedis.start();
  });
  afterEach(async () => {
    for (const l of links.splice(0)) await l.close();
    await redis.stop();
  });

  /** One replica's claims, on a link of its own. */
  const replica = async (o: Partial<RedisUserNameClaimsOptions> = {}) => {
    const link = new RedisLink({ url: redis.url, clock: systemClock, commandTimeoutMs: 200, probeIntervalMs: 50 });
    links.push(link);
    expect(await link.waitHealthy(5000)).toBe(true);
    return new RedisUserNameClaims(link, PREFIX, { clock: systemClock, logger: silent, pollMs: 10, ...o });
  };
  const leases = () => redis.command((r) => r.keys(`${PREFIX}userName:*`));
  const leaseKey = (identityKey: string) =>
    `${PREFIX}userName:${createHash('sha256').update(identityKey).digest('hex')}`;

  it('a second replica’s write of the same name starts once the first’s has ended, past its first lease', async () => {
    const a = await replica({ leaseMs: 150 });
    const b = await replica({ leaseMs: 150 });
    const order: string[] = [];
    const first = a.holding('emp3', async () => {
      order.push('a starts');
      await sleep(600); // four leases long: renewed while it runs
      order.push('a ends');
    });
    await sleep(20);
    const second = b.holding('emp3', async () => {
      order.push('b starts');
    });
    const other = b.holding('emp4', async () => {
      order.push('b, another name');
    });
    await Promise.all([first, second, other]);
    expect(order).toEqual(['a starts', 'b, another name', 'a ends', 'b starts']);
    expect(await leases()).toEqual([]);
  });

  it('a lease left by a holder that stopped expires, and the next write takes the name then', async () => {
    const a = await replica({ leaseMs: 5000 });
    const key = leaseKey('emp5');
    await redis.command((r) => r.set(key, 'a stopped replica', 'PX', 200));
    let holder: string | null = null;
    await a.holding('emp5', async () => {
      holder = await redis.command((r) => r.get(key));
    });
    expect(holder).not.toBeNull();
    expect(holder).not.toBe('a stopped replica');
    expect(await leases()).toEqual([]);
  });

  it('goes ahead on its own replica’s claim when a lease outlives the wait, or Redis is away', async () => {
    const a = await replica({ waitMs: 100 });
    const key = leaseKey('emp6');
    await redis.command((r) => r.set(key, 'a stuck replica', 'PX', 60_000));
    await expect(a.holding('emp6', async () => redis.command((r) => r.get(key)))).resolves.toBe('a stuck replica');
    // Never released by a write that did not hold it.
    expect(await redis.command((r) => r.get(key))).toBe('a stuck replica');

    await redis.kill();
    await expect(a.holding('emp7', async () => 'created')).resolves.toBe('created');
  });
});
