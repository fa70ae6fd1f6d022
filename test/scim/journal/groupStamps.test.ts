import { MemoryGroupStamps } from '../../../src/scim/journal/groupStamps';

// A group's stamp moves with the server's writes and with what a read finds changed since the last one.

describe('MemoryGroupStamps', () => {
  it('takes a baseline, then stamps a rename or other members found by a later read', async () => {
    const stamps = new MemoryGroupStamps();
    expect((await stamps.settle([{ id: 1, name: 'A', members: 'm1' }], 100)).get(1)).toEqual({ at: 0, version: 0 });
    // Read without members: nothing to compare them with, nothing changed.
    expect((await stamps.settle([{ id: 1, name: 'A' }], 200)).get(1)).toEqual({ at: 0, version: 0 });
    expect((await stamps.settle([{ id: 1, name: 'A', members: 'm2' }], 300)).get(1)).toEqual({ at: 300, version: 1 });
    expect((await stamps.settle([{ id: 1, name: 'B' }], 400)).get(1)).toEqual({ at: 400, version: 2 });
    expect((await stamps.settle([{ id: 1, name: 'B', members: 'm2' }], 500)).get(1)).toEqual({ at: 400, version: 2 });
  });

  it("stamps the server's own write at once, and a write without members keeps no member digest", async () => {
    const stamps = new MemoryGroupStamps();
    await stamps.settle([{ id: 2, name: 'G', members: 'm1' }], 100);
    expect((await stamps.settle([{ id: 2, name: 'G' }], 200, true)).get(2)).toEqual({ at: 200, version: 1 });
    // The next read with members is the new baseline, not a second change.
    expect((await stamps.settle([{ id: 2, name: 'G', members: 'm9' }], 300)).get(2)).toEqual({ at: 200, version: 1 });
  });
});
