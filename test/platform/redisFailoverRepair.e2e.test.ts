import Redis from 'ioredis';
import { RedisOutbox } from '../../src/events/redisOutbox';
import { RedisJournal } from '../../src/scim/journal/redisJournal';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { eventually } from '../support/privateRedis';
import { hasRedisTopologies, SentinelTopology } from '../support/redisTopologies';

// A SET the old primary acknowledged but never passed to its replica: the replica is frozen (SIGSTOP) and its link
// cut while the SET is queued, the primary dies, the thawed replica is promoted without it. The outbox kept the SET because no
// replica confirmed it, and queues it again, under the same jti, once the link has followed the failover. A
// journal entry lost the same way is not WAITed: after the failover the journal is complete only from then on
// (its horizon moves), so the lost change reads as "may have changed", never as "unchanged".

async function cutOffReplicas(port: number): Promise<void> {
  const admin = new Redis({ host: '127.0.0.1', port });
  try {
    await admin.client('KILL', 'TYPE', 'replica');
  } finally {
    admin.disconnect();
  }
}

const describeTopologies = hasRedisTopologies ? describe : describe.skip;

describeTopologies('what a sentinel failover loses is repaired', () => {
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

  it('the outbox queues again, under its jti, a SET the promoted replica never received; the journal’s horizon moves', async () => {
    const journal = new RedisJournal(link, 'kscim:{failover}:', { now: () => Date.now(), maxSubscribers: 1000 });
    const repairs: Promise<void>[] = [];
    const offFailover = link.onFailover(() => repairs.push(journal.afterFailover()));
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

      expect((await journal.view([1])).horizon).toBeLessThan(Date.now());
      // Frozen, and cut off by the primary: what is written next never reaches the replica, not even its socket.
      topology.replica.child.kill('SIGSTOP');
      await cutOffReplicas(topology.primary.port);
      const changedAt = Date.now();
      await journal.record({ subscriberId: 2, at: changedAt, kind: 'updated', source: 'scim', state: 'active' });
      expect((await journal.view([2])).lastChangeOf(2)).toBe(changedAt);
      await outbox.enqueue('iga', { jti: 'jti-unreplicated', subject: 'User:2', jwt: 'd.e.f' });
      await outbox.confirm();
      expect(outbox.unconfirmedCount).toBe(1);

      const before = link.failovers;
      const primary = topology.primary;
      await topology.killNode(primary);
      const killedAt = Date.now();
      topology.replica.child.kill('SIGCONT');
      await eventually(async () => (await topology.primaryPort()) === topology.replica.port, 300, 100);
      await eventually(() => link.healthy && link.failovers === before + 1, 300, 100);

      // The promoted replica had the first SET; the second came back from this replica's outbox, same jti.
      await eventually(async () => outbox.has('iga', 'jti-unreplicated'), 100, 100);
      expect(await outbox.has('iga', 'jti-replicated')).toBe(true);
      expect((await outbox.take('iga', 10)).map((s) => s.jti)).toEqual(['jti-replicated', 'jti-unreplicated']);

      // The journal's entry of subscriber 2 was lost with the old primary; its horizon says so.
      await Promise.all(repairs);
      expect(repairs).toHaveLength(1);
      const after = await journal.view([2]);
      expect(after.lastChangeOf(2)).toBeUndefined();
      expect(after.horizon).toBeGreaterThanOrEqual(killedAt);
    } finally {
      offFailover();
      outbox.close();
    }
  }, 60_000);
});
