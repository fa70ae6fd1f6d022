import { MemoryQueues, type QueuedSet } from '../../src/events/outbox';
import { ManualClock } from '../support/clock';

// The in-memory outbox on a manual clock: bounded (drops the oldest, reported), leases for polled SETs,
// per-subject order across redeliveries, long polls woken by a new SET or bounded by their wait.

const set = (jti: string, subject: string) => ({ jti, subject, jwt: `jwt-${jti}` });

describe('MemoryQueues (the in-memory outbox)', () => {
  const make = (maxEvents = 100, onDrop?: (r: string, s: QueuedSet) => void) => {
    const clock = new ManualClock();
    return { clock, outbox: new MemoryQueues({ clock, maxEvents, leaseMs: 30_000, onDrop }) };
  };

  it('a full outbox drops the oldest SET and reports it; enqueuing never blocks', () => {
    const dropped: string[] = [];
    const { outbox } = make(3, (r, s) => dropped.push(`${r}:${s.jti}`));
    for (const j of ['a', 'b', 'c', 'd', 'e']) outbox.enqueue('iga', set(j, `User:${j}`));
    expect(dropped).toEqual(['iga:a', 'iga:b']);
    expect(outbox.take('iga', 10).map((s) => s.jti)).toEqual(['c', 'd', 'e']);
    // Receivers are independent: another receiver's queue is untouched.
    expect(outbox.depth('other')).toBe(0);
  });

  it('a polled SET is leased: not offered again until the lease ends unacknowledged; an ack removes it', async () => {
    const { clock, outbox } = make();
    outbox.enqueue('iga', set('a', 'User:1'));
    outbox.enqueue('iga', set('b', 'User:2'));
    expect(outbox.take('iga', 10).map((s) => s.jti)).toEqual(['a', 'b']);
    expect(outbox.take('iga', 10)).toEqual([]);
    expect(outbox.available('iga')).toBe(false);
    expect(outbox.settle('iga', ['a', 'unknown']).map((s) => s.jti)).toEqual(['a']);
    await clock.advance(30_000);
    expect(outbox.take('iga', 10).map((s) => s.jti)).toEqual(['b']);
    expect(outbox.depth('iga')).toBe(1);
  });

  it('keeps per-subject order: a later SET of a subject waits while an earlier one is leased', async () => {
    const { clock, outbox } = make();
    outbox.enqueue('iga', set('1a', 'User:1'));
    outbox.enqueue('iga', set('2a', 'User:2'));
    outbox.enqueue('iga', set('1b', 'User:1'));
    expect(outbox.take('iga', 1).map((s) => s.jti)).toEqual(['1a']);
    // 1b is behind the leased 1a; User:2 is free.
    expect(outbox.take('iga', 10).map((s) => s.jti)).toEqual(['2a']);
    outbox.settle('iga', ['2a']);
    await clock.advance(30_000);
    // 1a's lease ended unacknowledged: it comes again first, then 1b.
    expect(outbox.take('iga', 10).map((s) => s.jti)).toEqual(['1a', '1b']);
  });

  it('a long poll wakes when a SET is queued, or after its wait; the oldest pending age is reported', async () => {
    const { clock, outbox } = make();
    let woke = false;
    const waiting = outbox.waiters.waitFor('iga', 5_000).then(() => (woke = true));
    await clock.advance(1_000);
    expect(woke).toBe(false);
    outbox.enqueue('iga', set('a', 'User:1'));
    await waiting;
    expect(woke).toBe(true);
    await clock.advance(2_000);
    expect(clock.now() - outbox.oldestQueuedAt('iga')!).toBe(2_000);
    let timedOut = false;
    const bounded = outbox.waiters.waitFor('other', 5_000).then(() => (timedOut = true));
    await clock.advance(4_999);
    expect(timedOut).toBe(false);
    await clock.advance(1);
    await bounded;
    expect(timedOut).toBe(true);
  });
});
