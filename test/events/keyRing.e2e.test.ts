import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { EventSigner, type SharedRingOptions } from '../../src/events/signer';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';

// The shared signing key when Redis loses it: two replicas on one redis-server of the test's own; Redis is
// flushed or restarted empty and one replica restarts. The replica that kept running converges on the key the
// store names without a restart, and every SET either replica signed verifies against the JWKS of either.

(hasRedisServer ? describe : describe.skip)('the signing key ring converges after Redis loses it', () => {
  let redis: PrivateRedis;
  const links: RedisLink[] = [];
  const signers: EventSigner[] = [];
  const KEY = 'events:signing-key';

  const replica = async (opts: Partial<SharedRingOptions> = {}) => {
    const link = new RedisLink({ url: redis.url, clock: systemClock, probeIntervalMs: 50 });
    links.push(link);
    expect(await link.waitHealthy(5000)).toBe(true);
    const signer = await EventSigner.fromRedis({
      redis: link,
      key: KEY,
      clock: systemClock,
      retentionMs: 60_000,
      minGapMs: 0,
      ...opts,
    });
    signers.push(signer);
    return signer;
  };

  /** Every SET verifies against the JWKS each replica publishes now. */
  const verifiesEverywhere = async (sets: string[], replicas: EventSigner[]) => {
    for (const r of replicas)
      for (const jwt of sets)
        await expect(jwtVerify(jwt, createLocalJWKSet(r.jwks()), { audience: 'aud' })).resolves.toBeDefined();
  };

  beforeEach(async () => {
    redis = await PrivateRedis.start();
  });
  afterEach(async () => {
    for (const s of signers.splice(0)) s.stop();
    for (const l of links.splice(0)) await l.close();
    await redis.stop();
  });

  it('FLUSHALL, then one replica restarts first: the other adopts the new key before its next batch', async () => {
    // A long interval: only the re-read before a signing batch can heal A here.
    const a = await replica({ checkEveryMs: 600_000 });
    const b = await replica({ checkEveryMs: 600_000 });
    expect(b.kid).toBe(a.kid);
    const sets = [await a.sign({ jti: 'a1' }, 'aud'), await b.sign({ jti: 'b1' }, 'aud')];

    await redis.command((r) => r.flushall());
    b.stop();
    const b2 = await replica({ checkEveryMs: 600_000 });
    expect(b2.kid).not.toBe(a.kid); // the store was empty: the restarted replica's key is the one it names
    sets.push(await a.sign({ jti: 'a-in-flight' }, 'aud')); // signed with the old key, before A re-read

    await a.converge(); // what the publisher does before each batch
    expect(a.kid).toBe(b2.kid);
    sets.push(await a.sign({ jti: 'a2' }, 'aud'), await b2.sign({ jti: 'b2' }, 'aud'));
    expect(new Set(sets.slice(-2).map((jwt) => decodeProtectedHeader(jwt).kid))).toEqual(new Set([b2.kid]));

    await b2.converge(); // B2 reads the old key A published as retired
    await verifiesEverywhere(sets, [a, b2]);
  });

  it('Redis restarted empty: the running replica offers its key again on its interval, and the restarted one takes it', async () => {
    const a = await replica({ checkEveryMs: 50 });
    const before = await a.sign({ jti: 'before' }, 'aud');
    await redis.restart();
    await eventually(async () => (await redis.command((r) => r.get(KEY))) !== null);

    const b = await replica({ checkEveryMs: 50 });
    expect(b.kid).toBe(a.kid);
    await verifiesEverywhere([before, await b.sign({ jti: 'after' }, 'aud')], [a, b]);
  });

  it('two replicas offering at once after a flush end on one key, and neither publishes a key it never used', async () => {
    const a = await replica({ checkEveryMs: 600_000 });
    await redis.command((r) => r.flushall());
    const [b, c] = await Promise.all([replica({ checkEveryMs: 600_000 }), replica({ checkEveryMs: 600_000 })]);
    await a.converge();
    expect(new Set([a.kid, b.kid, c.kid]).size).toBe(1);
    for (const s of [a, b, c]) await s.converge();
    // A signed nothing with its old key: nothing to keep published for it.
    expect(a.jwks().keys.map((k) => k.kid)).toEqual([a.kid]);
  });
});
