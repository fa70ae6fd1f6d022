import { RedisOutbox } from '../../src/events/redisOutbox';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { eventually } from '../support/privateRedis';
import { hasRedisTopologies, SentinelTopology } from '../support/redisTopologies';

// A SET the old primary acknowledged but never passed to its replica: the replica is frozen (SIGSTOP) while the
// SET is queued, the primary dies, the thawed replica is promoted without it. The outbox kept the SET because no
// replica confirmed it, and queues it again, under the same jti, once the link has followed the failover.

const describeTopologies = hasRedisTopologies ? describe : describe.skip;

describeTopologies('security-event outbox across a sentinel failover', () => {
  let topology: SentinelTopology;
  let link: RedisLink;
  beforeAll(async () => {
    topology = await SentinelTopology.start();
    link = new RedisLink({
      topology: {
        mode: 'sentinel',
        sentinels: topology.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
        name: topology.name,
        tls: false,
      },
      commandTimeoutMs: 2000,
      replicaAckTimeoutMs: 200,
      probeIntervalMs: 100,
    });
    expect(await link.waitHealthy(5000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await link?.close();
    await topology?.stop();
  });

  it('queues again, under its jti, a SET the promoted replica never received', async () => {
    const outbox = new RedisOutbox(link, {
      clock: systemClock,
      prefix: 'kscim:{failover}:',
      maxEvents: 100,
      leaseMs: 5000,
    });
    try {
      // Confirmed by the replica: nothing kept.
      await outbox.enqueue('iga', { jti: 'jti-replicated', subject: 'User:1', jwt: 'a.b.c' });
      await eventually(() => outbox.unconfirmedCount === 0, 100, 50);

      topology.replica.child.kill('SIGSTOP');
      await outbox.enqueue('iga', { jti: 'jti-unreplicated', subject: 'User:2', jwt: 'd.e.f' });
      await outbox.confirm();
      expect(outbox.unconfirmedCount).toBe(1);

      const before = link.failovers;
      const primary = topology.primary;
      await topology.killNode(primary);
      topology.replica.child.kill('SIGCONT');
      await eventually(async () => (await topology.primaryPort()) === topology.replica.port, 300, 100);
      await eventually(() => link.healthy && link.failovers === before + 1, 300, 100);

      // The promoted replica had the first SET; the second came back from this replica's outbox, same jti.
      await eventually(async () => outbox.has('iga', 'jti-unreplicated'), 100, 100);
      expect(await outbox.has('iga', 'jti-replicated')).toBe(true);
      expect((await outbox.take('iga', 10)).map((s) => s.jti)).toEqual(['jti-replicated', 'jti-unreplicated']);
    } finally {
      outbox.close();
    }
  }, 60_000);
});
