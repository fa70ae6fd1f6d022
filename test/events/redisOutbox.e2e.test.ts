import { systemClock } from '../../src/platform/clock';
import type { QueuedSet } from '../../src/events/outbox';
import { RedisOutbox } from '../../src/events/redisOutbox';
import { EventSigner } from '../../src/events/signer';
import { RedisLink } from '../../src/platform/redisLink';
import { ManualClock } from '../support/clock';
import { describeRedis, redisUrl } from '../support/redis';
import { unique } from '../support/unique';

// The Redis outbox against real Redis: kept across a restart (a new process, a new connection), shared by two
// replicas that each deliver every SET once and never the same one concurrently, in order per subject; bounded.

const set = (jti: string, subject: string) => ({ jti, subject, jwt: `jwt-${jti}` });

describeRedis('RedisOutbox (durable, shared by replicas)', () => {
  const links: RedisLink[] = [];
  const link = async () => {
    const l = new RedisLink({ url: redisUrl!, clock: systemClock });
    links.push(l);
    expect(await l.waitHealthy(5000)).toBe(true);
    return l;
  };
  afterAll(async () => {
    for (const l of links) await l.close();
  });

  it('a restart loses nothing: SETs queued (and leased, unacknowledged) by one process are there for the next', async () => {
    const prefix = `test:events:${unique()}:`;
    const clock = new ManualClock();
    const before = new RedisOutbox(await link(), { clock, prefix, maxEvents: 1000, leaseMs: 30_000 });
    for (let i = 0; i < 20; i++) await before.enqueue('iga', set(`j${i}`, `User:${i % 4}`));
    expect((await before.take('iga', 4)).map((s) => s.jti)).toEqual(['j0', 'j1', 'j2', 'j3']);
    await links[links.length - 1]!.close();

    const after = new RedisOutbox(await link(), { clock, prefix, maxEvents: 1000, leaseMs: 30_000 });
    expect(await after.depth('iga')).toBe(20);
    // The four the dead process held are leased: their subjects wait behind them.
    expect(await after.take('iga', 100)).toEqual([]);
    await clock.advance(30_000);
    const all = await after.take('iga', 4);
    expect(all.map((s) => s.jti)).toEqual(['j0', 'j1', 'j2', 'j3']);
    await after.settle(
      'iga',
      all.map((s) => s.jti),
    );
    // Nothing was lost: the other sixteen follow, in queue order.
    expect((await after.take('iga', 100)).map((s) => s.jti)).toEqual(Array.from({ length: 16 }, (_, i) => `j${i + 4}`));
    expect(await after.oldestQueuedAt('iga')).toBe(clock.now() - 30_000);
  });

  it('two replicas deliver each SET exactly once between them, never concurrently, in order per subject', async () => {
    const prefix = `test:events:${unique()}:`;
    const a = new RedisOutbox(await link(), { clock: systemClock, prefix, maxEvents: 10_000, leaseMs: 60_000 });
    const b = new RedisOutbox(await link(), { clock: systemClock, prefix, maxEvents: 10_000, leaseMs: 60_000 });
    const N = 300;
    for (let i = 0; i < N; i++) await (i % 2 ? a : b).enqueue('iga', set(`s${i}`, `User:${i % 15}`));
    const delivered: Array<{ by: string; s: QueuedSet }> = [];
    const inFlight = new Set<string>();
    let concurrentTwice = 0;
    const replica = async (name: string, outbox: RedisOutbox) => {
      for (;;) {
        const batch = await outbox.take('iga', 7);
        if (batch.length === 0) {
          if ((await outbox.depth('iga')) === 0) return;
          await new Promise((r) => setImmediate(r));
          continue;
        }
        for (const s of batch) {
          if (inFlight.has(s.jti)) concurrentTwice++;
          inFlight.add(s.jti);
        }
        await new Promise((r) => setImmediate(r));
        for (const s of batch) {
          delivered.push({ by: name, s });
          inFlight.delete(s.jti);
        }
        await outbox.settle(
          'iga',
          batch.map((s) => s.jti),
        );
      }
    };
    await Promise.all([replica('a', a), replica('b', b)]);
    expect(concurrentTwice).toBe(0);
    expect(delivered).toHaveLength(N);
    expect(new Set(delivered.map((d) => d.s.jti)).size).toBe(N);
    // Both replicas did part of the work.
    expect(new Set(delivered.map((d) => d.by)).size).toBe(2);
    for (let subject = 0; subject < 15; subject++) {
      const seq = delivered.filter((d) => d.s.subject === `User:${subject}`).map((d) => Number(d.s.jti.slice(1)));
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
  });

  it('bounded: a full outbox drops the oldest SETs and reports each', async () => {
    const prefix = `test:events:${unique()}:`;
    const dropped: string[] = [];
    const outbox = new RedisOutbox(await link(), {
      clock: systemClock,
      prefix,
      maxEvents: 10,
      leaseMs: 30_000,
      onDrop: (_r, s) => dropped.push(s.jti),
    });
    for (let i = 0; i < 15; i++) await outbox.enqueue('iga', set(`d${i}`, `User:${i}`));
    expect(dropped).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(await outbox.depth('iga')).toBe(10);
    expect(await outbox.has('iga', 'd0')).toBe(false);
  });

  it('the signing key generated in Redis is the same for every replica', async () => {
    const key = `test:events:${unique()}:signing-key`;
    const ring = async () => ({ redis: await link(), key, clock: systemClock, retentionMs: 60_000 });
    const [x, y] = await Promise.all([EventSigner.fromRedis(await ring()), EventSigner.fromRedis(await ring())]);
    x.stop();
    y.stop();
    expect(x.kid).toBe(y.kid);
    expect(x.jwks().keys.map((k) => k.kid)).toEqual([x.kid]);
    expect(y.jwks().keys.map((k) => k.kid)).toEqual([x.kid]);
  });
});
