import { groupShape } from '../../../src/scim/render/groupRenderer';
import { ProjectionCache } from '../../../src/scim/render/projectionCache';

describe('ProjectionCache', () => {
  it('compiles each selection once, and keeps at most maxEntries, the least recently used dropped first', () => {
    const cache = new ProjectionCache(groupShape, '/Groups', 2);
    const plain = cache.get();
    const noMembers = cache.get(undefined, 'members');
    expect(cache.get()).toBe(plain); // plain is now the most recently used
    cache.get('displayName'); // evicts noMembers
    expect(cache.get()).toBe(plain);
    expect(cache.get(undefined, 'members')).not.toBe(noMembers);
  });
});
