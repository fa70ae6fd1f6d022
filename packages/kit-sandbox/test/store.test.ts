import { SandboxStore } from '../src';

describe('SandboxStore (direct, synchronous)', () => {
  // How fast this runs is a benchmark figure (`npm run bench -- seed`), not something a test can promise on a
  // shared machine; the test asserts what seeding produces.
  it('seeds 100,000 subscribers and tags them across 50 tags', () => {
    const store = new SandboxStore(Date.now);
    store.createCustomField('Department');
    const seeded = store.seedSubscribers(100_000, { fields: { Department: 'Dept {id}' } });
    const tags = Array.from({ length: 50 }, (_, i) => store.createTag(`Team ${i}`));
    tags.forEach((tag, i) => {
      store.tagSubscribers(
        tag.id,
        seeded.ids.filter((_, j) => j % 50 === i),
      );
    });
    expect(seeded).toMatchObject({ count: 100_000, firstId: 1, lastId: 100_000 });
    expect(store.counts()).toMatchObject({ subscribers: 100_000, tags: 50, taggings: 100_000 });
    expect(store.getSubscriber(77)!.fields).toEqual({ department: 'Dept 77' });
    expect(store.subscribersOfTag(tags[3].id)).toHaveLength(2_000);
    expect(store.tagsOfSubscriber(4).map((t) => t.name)).toEqual(['Team 3']);
  });

  it('adds, finds (case-insensitively) and refuses duplicates', () => {
    const store = new SandboxStore(() => Date.UTC(2024, 0, 1));
    const s = store.addSubscriber({ email_address: 'Mixed@Case.test', first_name: 'M' });
    expect(s).toEqual({
      id: 1,
      first_name: 'M',
      email_address: 'mixed@case.test',
      state: 'active',
      created_at: '2024-01-01T00:00:00Z',
      fields: {},
    });
    expect(store.findByEmail('MIXED@case.TEST')!.id).toBe(1);
    expect(() => store.addSubscriber({ email_address: 'mixed@case.test' })).toThrow(/already been taken/);
    expect(() => store.createTag('x')).not.toThrow();
    expect(() => store.createTag('X')).toThrow(/already been taken/);
    expect(store.listCustomFields()).toEqual([]);
    store.reset();
    expect(store.counts().subscribers).toBe(0);
    expect(store.addSubscriber({ email_address: 'again@case.test' }).id).toBe(1);
  });
});
