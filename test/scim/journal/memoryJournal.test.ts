import { OwnWritePendingError } from '../../../src/scim/journal/changeJournal';
import { MemoryJournal } from '../../../src/scim/journal/memoryJournal';

// One process's journal and the server's own writes it has not recorded yet: a read between Kit's answer to a
// stamped write and the write's entry must not take the state Kit shows for a change made in Kit.

describe('the memory journal and writes of the server it has not recorded yet', () => {
  let clock: number;
  let journal: MemoryJournal;

  beforeEach(() => {
    clock = 1_000_000;
    journal = new MemoryJournal({ now: () => clock, maxSubscribers: 10 });
  });

  it('a state a newer stamp of the server explains is left to that write’s entry, then the read finds nothing new', async () => {
    await journal.observe([{ id: 1, state: 'active' }], ++clock);
    const stampedAt = ++clock;
    await journal.observe([{ id: 1, state: 'inactive', ownWriteAt: stampedAt }], ++clock);
    await expect(
      journal.record(
        { subscriberId: 1, at: ++clock, kind: 'state', source: 'webhook', state: 'inactive' },
        { ownWriteAt: stampedAt },
      ),
    ).rejects.toBeInstanceOf(OwnWritePendingError);
    expect(await journal.lastState(1)).toBe('active');
    expect(await journal.read(0, 10)).toEqual([]);

    const own = {
      subscriberId: 1,
      at: stampedAt,
      kind: 'deactivated' as const,
      source: 'scim' as const,
      state: 'inactive' as const,
    };
    await journal.record(own);
    await journal.observe([{ id: 1, state: 'inactive', ownWriteAt: stampedAt }], ++clock);
    expect(await journal.read(0, 10)).toEqual([own]);
  });

  it('a stamp no newer than the subscriber’s entry, or than the horizon, explains nothing', async () => {
    await journal.record({ subscriberId: 2, at: ++clock, kind: 'updated', source: 'scim', state: 'active' });
    await journal.observe([{ id: 2, state: 'cancelled', ownWriteAt: clock }], ++clock);
    const horizon = (await journal.view()).horizon;
    await journal.observe([{ id: 3, state: 'active' }], ++clock);
    await journal.record(
      { subscriberId: 3, at: ++clock, kind: 'state', source: 'webhook', state: 'bounced' },
      { ownWriteAt: horizon },
    );
    expect((await journal.read(0, 10)).map((c) => [c.subscriberId, c.source, c.state])).toEqual([
      [2, 'scim', 'active'],
      [2, 'reread', 'cancelled'],
      [3, 'webhook', 'bounced'],
    ]);
  });

  it('a first sighting is not held back: it claims no change anyway', async () => {
    await journal.observe([{ id: 4, state: 'inactive', ownWriteAt: clock + 5 }], ++clock);
    expect(await journal.read(0, 10)).toEqual([expect.objectContaining({ subscriberId: 4, firstSeen: true })]);
  });

  it('a change learned from Kit whose state the journal already holds is no change', async () => {
    const own = {
      subscriberId: 5,
      at: ++clock,
      kind: 'deactivated' as const,
      source: 'scim' as const,
      state: 'inactive' as const,
    };
    await journal.record(own);
    await journal.record({ subscriberId: 5, at: ++clock, kind: 'state', source: 'rewalk', state: 'inactive' });
    await journal.record({ subscriberId: 5, at: ++clock, kind: 'state', source: 'webhook', state: 'bounced' });
    expect((await journal.read(0, 10)).map((c) => [c.source, c.state])).toEqual([
      ['scim', 'inactive'],
      ['webhook', 'bounced'],
    ]);
  });
});
