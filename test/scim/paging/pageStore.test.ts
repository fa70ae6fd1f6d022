import { MemoryPageStore } from '../../../src/scim/paging/pageStore';
import { ManualClock } from '../../support/clock';

describe('MemoryPageStore keeps decoded, read-only values', () => {
  it('hands out the value it keeps as it is, frozen, so nobody can change it', async () => {
    const store = new MemoryPageStore(10);
    const page = [{ id: 1, fields: { a: 'x' } }];
    await store.set('p', page, 60);
    expect(() => {
      page[0].fields.a = 'changed by the caller';
    }).toThrow(TypeError);
    const first = await store.get<typeof page>('p');
    const second = await store.get<typeof page>('p');
    expect(first).toEqual([{ id: 1, fields: { a: 'x' } }]);
    // The same object twice: no re-parse per request.
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first![0].fields)).toBe(true);
    expect(() => {
      'use strict';
      first![0].fields.a = 'y';
    }).toThrow(TypeError);
  });

  it('stays within its bound and its TTL', async () => {
    const clock = new ManualClock();
    const store = new MemoryPageStore(2, clock);
    await store.set('a', 1, 10);
    await store.set('b', 2, 10);
    await store.set('c', 3, 10);
    expect(store.size).toBe(2);
    expect(await store.get('a')).toBeUndefined();
    await clock.advance(9_000);
    expect(await store.get('c')).toBe(3);
    await clock.advance(1_001);
    expect(await store.get('c')).toBeUndefined();
  });
});
