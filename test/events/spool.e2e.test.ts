import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildSecurityEvents } from '../../src/events';
import { RedisOutbox } from '../../src/events/redisOutbox';
import { SpooledOutbox } from '../../src/events/spool';
import { systemClock } from '../../src/platform/clock';
import { RedisLink } from '../../src/platform/redisLink';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';

// SETs made while Redis is away: spooled on the replica, moved to the shared outbox when Redis answers again, in
// order per subject; kept in a file across a restart; past the bound each lost one is logged, counted, audited.

const PREFIX = 'test:spool:';
const set = (jti: string, subject: string) => ({ jti, subject, jwt: `jwt-${jti}` });

(hasRedisServer ? describe : describe.skip)('security events spooled while Redis is away', () => {
  let redis: PrivateRedis;
  const links: RedisLink[] = [];
  const closers: Array<() => unknown> = [];

  const link = () => {
    const l = new RedisLink({ url: redis.url, clock: systemClock, commandTimeoutMs: 200, probeIntervalMs: 50 });
    links.push(l);
    return l;
  };
  const shared = (l: RedisLink) =>
    new RedisOutbox(l, { clock: systemClock, prefix: PREFIX, maxEvents: 1000, leaseMs: 60_000 });
  const spooled = (
    l: RedisLink,
    opts: { file?: string; maxSpooled?: number; onLost?: (r: string, s: { jti: string }) => void } = {},
  ) => {
    const o = new SpooledOutbox(shared(l), {
      redis: l,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      maxSpooled: 1000,
      retryMs: 50,
      onLost: () => {},
      ...opts,
    });
    closers.push(() => o.close());
    return o;
  };
  /** Everything in the shared outbox for `receiver`, in queue order. */
  const queued = async (receiver: string) => {
    const l = link();
    expect(await l.waitHealthy(5000)).toBe(true);
    return (await shared(l).take(receiver, 1000)).map((s) => s.jti);
  };

  beforeEach(async () => {
    redis = await PrivateRedis.start();
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    for (const l of links.splice(0)) await l.close();
    await redis.stop();
  });

  it('Redis paused (SIGSTOP): SETs made meanwhile are all queued once it answers, in the order made', async () => {
    const l = link();
    expect(await l.waitHealthy(5000)).toBe(true);
    const outbox = spooled(l);
    await outbox.enqueue('iga', set('before', 'User:1'));
    redis.pause();
    const made = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    for (const [i, jti] of made.entries()) await outbox.enqueue('iga', set(jti, `User:${i % 2}`));
    expect(outbox.spooled).toBe(made.length);
    redis.resume();
    await eventually(() => outbox.spooled === 0);
    await outbox.enqueue('iga', set('after', 'User:1'));
    expect(await queued('iga')).toEqual(['before', ...made, 'after']);
  });

  it('past the bound, exactly the SETs that did not fit are lost: each logged, counted and audited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scim-spool-'));
    const logFile = join(dir, 'log.jsonl');
    const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
    const registry = new Registry();
    const audit: string[] = [];
    const l = link();
    expect(await l.waitHealthy(5000)).toBe(true);
    const events = await buildSecurityEvents({
      config: {
        receivers: [{ name: 'iga', token: 't'.repeat(40), audience: 'aud' }],
        previousPublicKeys: [],
        keyFile: join(dir, 'key.json'),
        outboxMax: 1000,
        leaseMs: 60_000,
        maxWaitMs: 0,
        maxEventsPerPoll: 100,
        push: [],
        deadLetterMs: 60_000,
        spoolMax: 3,
      },
      issuer: 'https://scim.example',
      clock: systemClock,
      logger,
      registry,
      redis: l,
      prefix: PREFIX,
      audit: (detail) => audit.push(detail),
    });
    closers.push(() => events.close());
    await redis.kill();
    for (let i = 1; i <= 5; i++) await events.outbox.enqueue('iga', set(`o${i}`, `User:${i}`));

    const lostLines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('security event lost'))
      .map((line) => (JSON.parse(line) as { jti: string }).jti);
    expect(lostLines).toEqual(['o4', 'o5']);
    expect(audit.filter((a) => a.includes('lost'))).toEqual([
      expect.stringContaining('o4'),
      expect.stringContaining('o5'),
    ]);
    expect((await registry.getSingleMetric('scim_events_lost_total')!.get()).values.map((v) => v.value)).toEqual([2]);

    await redis.restart();
    await eventually(() => (events.outbox as SpooledOutbox).spooled === 0);
    expect(await queued('iga')).toEqual(['o1', 'o2', 'o3']);
  });

  it('a process stopped while Redis is away: its restart sends what the spool file holds, in order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'scim-spool-')), 'spool.jsonl');
    const first = link();
    expect(await first.waitHealthy(5000)).toBe(true);
    const before = spooled(first, { file });
    await redis.kill();
    for (const jti of ['r1', 'r2', 'r3']) await before.enqueue('iga', set(jti, 'User:7'));
    await before.enqueue('other', set('r4', 'User:7'));
    before.close();
    await first.close();
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);

    await redis.restart();
    const after = spooled(link(), { file });
    expect(after.spooled).toBe(4);
    await eventually(() => after.spooled === 0);
    expect(await queued('iga')).toEqual(['r1', 'r2', 'r3']);
    expect(await queued('other')).toEqual(['r4']);
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});
