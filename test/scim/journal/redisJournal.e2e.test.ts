import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { systemClock } from '../../../src/platform/clock';
import { RedisLink } from '../../../src/platform/redisLink';
import {
  effectiveLastModified,
  JournalUnavailableError,
  OwnWritePendingError,
  type SubscriberChange,
} from '../../../src/scim/journal/changeJournal';
import { type JournalSpoolOptions, RedisJournal } from '../../../src/scim/journal/redisJournal';
import { eventually, hasRedisServer, PrivateRedis } from '../../support/privateRedis';

// Changes recorded while Redis is away: spooled on the replica that made them (whose reads see them at once),
// recorded in Redis when it answers again, in the order made, so every other replica sees them then; kept in a
// file across a restart; past the bound each lost one is logged and told.

const PREFIX = 'test:journalSpool:';
const silent = pino({ level: 'silent' });

(hasRedisServer ? describe : describe.skip)('the change journal while Redis is away', () => {
  let redis: PrivateRedis;
  const links: RedisLink[] = [];
  const journals: RedisJournal[] = [];
  let clock = 1_000_000;

  const link = async () => {
    const l = new RedisLink({ url: redis.url, clock: systemClock, commandTimeoutMs: 200, probeIntervalMs: 50 });
    links.push(l);
    return l;
  };
  /** One replica's journal, on a link of its own. */
  const replica = async (spool: Partial<JournalSpoolOptions> = {}, healthy = true) => {
    const l = await link();
    if (healthy) expect(await l.waitHealthy(5000)).toBe(true);
    const j = new RedisJournal(l, PREFIX, {
      now: () => clock,
      maxSubscribers: 1000,
      spool: { clock: systemClock, logger: silent, max: 1000, retryMs: 50, onLost: () => {}, ...spool },
    });
    journals.push(j);
    return j;
  };
  const change = (subscriberId: number, kind: SubscriberChange['kind'] = 'updated'): SubscriberChange => ({
    subscriberId,
    at: ++clock,
    kind,
    source: 'scim',
    state: kind === 'deactivated' ? 'inactive' : 'active',
  });

  beforeEach(async () => {
    redis = await PrivateRedis.start();
  });
  afterEach(async () => {
    for (const j of journals.splice(0)) j.close();
    for (const l of links.splice(0)) await l.close();
    await redis.stop();
  });

  it('Redis paused (SIGSTOP): the replica that wrote sees its changes at once, every replica once Redis answers, in order', async () => {
    const a = await replica();
    const b = await replica();
    const before = change(1);
    await a.record(before);
    redis.pause();
    const made = [change(1), change(2), change(1, 'deactivated'), change(2)];
    for (const c of made) await a.record(c);
    expect(a.spooled).toBe(made.length);

    // The writing replica answers its own meta.lastModified while Redis is away.
    const ownView = await a.view([1, 2]);
    expect(ownView.lastChangeOf(1)).toBe(made[2]!.at);
    expect(ownView.lastChangeOf(2)).toBe(made[3]!.at);
    expect(await a.lastState(1)).toBe('inactive');

    redis.resume();
    await eventually(() => a.spooled === 0);
    const after = change(2);
    await a.record(after);

    expect(await b.read(0, 100)).toEqual([before, ...made, after]);
    const seen = await b.view([1, 2]);
    expect(seen.lastChangeOf(1)).toBe(made[2]!.at);
    // An old Kit stamp: meta.lastModified on the other replica is the deactivation's time.
    expect(effectiveLastModified(before.at - 1, 'inactive', seen.lastChangeOf(1), seen.horizon)).toBe(made[2]!.at);
    expect(await b.lastState(1)).toBe('inactive');
  });

  it('changes spooled and not yet moved are in this replica’s feed, in time order, once', async () => {
    const a = await replica({ retryMs: 60_000 });
    const b = await replica();
    const other = change(4);
    await b.record(other);
    // Redis answers but refuses the record (a key of the wrong type): a's changes wait in its spool.
    await redis.command((r) => r.set(`${PREFIX}journal:latest`, 'not a sorted set'));
    const made = [change(5), change(6)];
    for (const c of made) await a.record(c);
    expect(a.spooled).toBe(2);
    expect(await a.read(0, 100)).toEqual([other, ...made]);
    expect(await a.read(other.at, 1)).toEqual([made[0]]);
    expect(await b.read(0, 100)).toEqual([other]);

    await redis.command((r) => r.del(`${PREFIX}journal:latest`));
    await a.drain();
    expect(a.spooled).toBe(0);
    expect(await a.read(0, 100)).toEqual([other, ...made]);
    expect(await b.read(0, 100)).toEqual([other, ...made]);
  });

  it('past the bound, exactly the changes that did not fit are lost: each logged and told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scim-journal-spool-'));
    const logFile = join(dir, 'log.jsonl');
    const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
    const lost: SubscriberChange[] = [];
    const a = await replica({ logger, max: 3, onLost: (c) => lost.push(c) });
    await redis.kill();
    const made = [1, 2, 3, 4, 5].map((id) => change(id));
    const refused: number[] = [];
    for (const c of made)
      await a.record(c).catch((err: unknown) => {
        expect(err).toBeInstanceOf(JournalUnavailableError);
        refused.push(c.subscriberId);
      });

    expect(refused).toEqual([4, 5]);
    expect(lost).toEqual([made[3], made[4]]);
    const lostLines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('journal entry lost'))
      .map((line) => (JSON.parse(line) as { subscriberId: number }).subscriberId);
    expect(lostLines).toEqual([4, 5]);

    await redis.restart();
    await eventually(() => a.spooled === 0);
    expect(await (await replica()).read(0, 100)).toEqual(made.slice(0, 3));
  });

  it('a process stopped while Redis is away: its restart records what the spool file holds, in order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'scim-journal-spool-')), 'journal-spool.jsonl');
    const a = await replica({ file });
    await redis.kill();
    const made = [change(7), change(8, 'deactivated'), change(7)];
    for (const c of made) await a.record(c, { done: true });
    a.close();
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3);

    await redis.restart();
    const restarted = await replica({ file }, false);
    expect(restarted.spooled).toBe(3);
    await eventually(() => restarted.spooled === 0);
    expect(await (await replica()).read(0, 100)).toEqual(made);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('a change its caller can keep in Kit is never spooled, even to a file: the caller writes its stamp', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'scim-journal-spool-')), 'journal-spool.jsonl');
    for (const a of [await replica(), await replica({ file })]) {
      await redis.kill();
      await expect(a.record(change(9, 'deactivated'), { durable: true })).rejects.toBeInstanceOf(
        JournalUnavailableError,
      );
      expect(a.spooled).toBe(0);
      await redis.restart();
    }
  });

  it('a change learned from Kit is not spooled: its deliverer decides it again once Redis answers', async () => {
    const a = await replica();
    await redis.kill();
    await expect(a.record({ ...change(10, 'deactivated'), source: 'webhook' })).rejects.toBeInstanceOf(
      JournalUnavailableError,
    );
    expect(a.spooled).toBe(0);
  });

  it('a replayed change never sets the last state back past a later one recorded meanwhile', async () => {
    const a = await replica({ retryMs: 60_000 });
    const b = await replica();
    await redis.command((r) => r.set(`${PREFIX}journal:latest`, 'not a sorted set'));
    const older = change(13, 'deactivated');
    await a.record(older);
    expect(a.spooled).toBe(1);
    await redis.command((r) => r.del(`${PREFIX}journal:latest`));
    const newer = { ...change(13), state: 'cancelled' as const, source: 'webhook' as const };
    await b.record(newer);
    await a.drain();
    expect(await b.lastState(13)).toBe('cancelled');
    expect(await b.read(0, 100)).toEqual([older, newer]);
  });

  it('a write of the server still in its replica’s spool explains what another replica reads in Kit, until its entry arrives', async () => {
    const a = await replica({ retryMs: 60_000 });
    const b = await replica();
    await b.observe([{ id: 20, state: 'active' }], ++clock);
    // Redis answers again, but a's deactivation has not left its spool yet (its next try is a minute away).
    await redis.command((r) => r.set(`${PREFIX}journal:latest`, 'not a sorted set'));
    const deactivation = change(20, 'deactivated');
    await a.record(deactivation, { done: true });
    expect(a.spooled).toBe(1);
    await redis.command((r) => r.del(`${PREFIX}journal:latest`));

    // b reads the subscriber in Kit: inactive, carrying the stamp a wrote with its deactivation.
    const inKit = { id: 20, state: 'inactive' as const, kitStamp: new Date(deactivation.at).toISOString() };
    await b.observe([{ ...inKit, ownWriteAt: deactivation.at }], ++clock);
    await expect(
      b.record(
        { subscriberId: 20, at: ++clock, kind: 'state', source: 'webhook', state: 'inactive' },
        { ownWriteAt: deactivation.at },
      ),
    ).rejects.toBeInstanceOf(OwnWritePendingError);
    expect(await b.lastState(20)).toBe('active');
    expect(await b.read(0, 100)).toEqual([]);

    await a.drain();
    expect(await b.lastState(20)).toBe('inactive');
    await b.observe([{ ...inKit, ownWriteAt: deactivation.at }], ++clock);
    expect(await b.read(0, 100)).toEqual([deactivation]);
  });

  it('a stamp no newer than what the journal holds (or its horizon) explains nothing: a change made in Kit is recorded', async () => {
    const a = await replica();
    const rename = change(21);
    await a.record(rename);
    await a.observe([{ id: 22, state: 'active' }], ++clock);
    const horizon = (await a.view([])).horizon;
    await a.observe(
      [
        { id: 21, state: 'inactive', ownWriteAt: rename.at },
        { id: 22, state: 'inactive', ownWriteAt: horizon },
      ],
      ++clock,
    );
    expect((await a.read(rename.at, 100)).map((c) => [c.subscriberId, c.source, c.state])).toEqual([
      [21, 'reread', 'inactive'],
      [22, 'reread', 'inactive'],
    ]);
    // Newer than the horizon with no entry of its own: a write the journal has not heard of yet.
    await a.observe([{ id: 23, state: 'active' }], ++clock);
    await a.observe([{ id: 23, state: 'inactive', ownWriteAt: clock }], ++clock);
    expect(await a.lastState(23)).toBe('active');
  });

  it('a change learned from Kit whose state the journal already holds is no change: not recorded, not told', async () => {
    const a = await replica();
    const told: SubscriberChange[] = [];
    a.subscribe((c) => told.push(c));
    const own = change(24, 'deactivated');
    await a.record(own);
    await a.record({ subscriberId: 24, at: ++clock, kind: 'state', source: 'rewalk', state: 'inactive' });
    const bounce = { subscriberId: 24, at: ++clock, kind: 'state', source: 'webhook', state: 'bounced' } as const;
    await a.record(bounce);
    expect(await a.read(0, 100)).toEqual([own, bounce]);
    expect(told).toEqual([own, bounce]);
  });

  it('intents recorded while Redis is away are kept on this replica until they expire', async () => {
    const a = await replica();
    redis.pause();
    await a.intend({ subscriberId: 11 }, 'inactive', 60_000);
    await a.intend({ email: 'Someone@Example.com' }, 'inactive', 60_000);
    expect(await a.intended(11, undefined, 'inactive')).toBe(true);
    expect(await a.intended(12, 'someone@example.com', 'inactive')).toBe(true);
    expect(await a.intended(11, undefined, 'active')).toBe(false);
    await a.withdraw({ subscriberId: 11 });
    expect(await a.intended(11, undefined, 'inactive')).toBe(false);
    clock += 60_001;
    expect(await a.intended(12, 'someone@example.com', 'inactive')).toBe(false);
    redis.resume();
  });
});
