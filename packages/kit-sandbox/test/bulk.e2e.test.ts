import { startReceiver } from './callbackReceiver';
import { useSandbox } from './sandboxHttp';

const ctx = useSandbox();

beforeEach(() => ctx.sandbox.store.reset());

describe('POST /v4/bulk/tags/subscribers', () => {
  it('applies ≤ 100 taggings synchronously (200) and reports unknown tags and subscribers in failures', async () => {
    const { store } = ctx.sandbox;
    const tag = store.createTag('Bulk');
    const ids = store.seedSubscribers(3).ids;
    const res = await ctx.http.post('/v4/bulk/tags/subscribers', {
      taggings: [
        { tag_id: tag.id, subscriber_id: ids[0] },
        { tag_id: tag.id, subscriber_id: ids[1] },
        { tag_id: 9999, subscriber_id: ids[2] },
        { tag_id: tag.id, subscriber_id: 8888 },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data.subscribers.map((s: { id: number }) => s.id)).toEqual([ids[0], ids[1]]);
    expect(res.data.subscribers[0]).toMatchObject({ email_address: expect.any(String), tagged_at: expect.any(String) });
    expect(res.data.failures).toEqual([
      { tagging: { tag_id: 9999, subscriber_id: ids[2] }, errors: ['Tag not found'] },
      { tagging: { tag_id: tag.id, subscriber_id: 8888 }, errors: ['Subscriber not found'] },
    ]);
    expect(store.subscribersOfTag(tag.id)).toEqual([ids[0], ids[1]]);
  });

  it('queues > 100 taggings (202 {}) and POSTs the 200-shaped result to callback_url when done', async () => {
    const receiver = await startReceiver();
    try {
      const { store } = ctx.sandbox;
      const tag = store.createTag('Async');
      const ids = store.seedSubscribers(150).ids;
      const res = await ctx.http.post('/v4/bulk/tags/subscribers', {
        taggings: [...ids.map((id) => ({ tag_id: tag.id, subscriber_id: id })), { tag_id: tag.id, subscriber_id: 0 }],
        callback_url: `${receiver.url}/kit-callback`,
      });
      expect(res.status).toBe(202);
      expect(res.data).toEqual({});
      const [delivery] = await receiver.waitFor(1);
      expect(delivery.path).toBe('/kit-callback');
      expect(delivery.body.subscribers).toHaveLength(150);
      expect(delivery.body.failures).toEqual([
        { tagging: { tag_id: tag.id, subscriber_id: 0 }, errors: ['Subscriber not found'] },
      ]);
      expect(store.subscribersOfTag(tag.id)).toHaveLength(150);
    } finally {
      await receiver.close();
    }
  });

  it('422s on an empty or missing list, and on a bad callback_url', async () => {
    for (const body of [{ taggings: [] }, {}, { taggings: 'x' }]) {
      const res = await ctx.http.post('/v4/bulk/tags/subscribers', body);
      expect(res.status).toBe(422);
      expect(res.data).toEqual({ errors: ['No taggings included for processing'] });
    }
    const bad = await ctx.http.post('/v4/bulk/tags/subscribers', {
      taggings: [{ tag_id: 1, subscriber_id: 1 }],
      callback_url: 'ftp://nope',
    });
    expect(bad.status).toBe(422);
  });
});

describe('POST /v4/bulk/subscribers, /bulk/tags, /bulk/custom_fields', () => {
  it('bulk subscribers upsert each item and report invalid ones', async () => {
    const { store } = ctx.sandbox;
    store.createCustomField('Role');
    const existing = store.addSubscriber({ email_address: 'old@example.com', first_name: 'Old', state: 'inactive' });
    const res = await ctx.http.post('/v4/bulk/subscribers', {
      subscribers: [
        { email_address: 'new@example.com', first_name: 'New', fields: { role: 'Dev', nope: 'x' } },
        { email_address: 'OLD@example.com', first_name: 'Renamed', state: 'active' },
        { email_address: 'broken', first_name: 'Benito' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data.subscribers).toEqual([
      expect.objectContaining({ email_address: 'new@example.com', state: 'active', fields: { role: 'Dev' } }),
      expect.objectContaining({ id: existing.id, first_name: 'Renamed', state: 'inactive' }),
    ]);
    expect(res.data.failures).toEqual([
      {
        subscriber: { first_name: 'Benito', email_address: 'broken', state: 'active', created_at: null },
        errors: ['Email address is invalid'],
      },
    ]);
    expect((await ctx.http.post('/v4/bulk/subscribers', { subscribers: [] })).data).toEqual({
      errors: ['No subscribers included for processing'],
    });
  });

  it('bulk tags create new names and fail taken ones with the existing tag', async () => {
    const taken = ctx.sandbox.store.createTag('Taken');
    const res = await ctx.http.post('/v4/bulk/tags', { tags: [{ name: 'Fresh' }, { name: 'taken' }] });
    expect(res.status).toBe(200);
    expect(res.data.tags).toEqual([{ id: expect.any(Number), name: 'Fresh', created_at: expect.any(String) }]);
    expect(res.data.failures).toEqual([{ tag: taken, errors: ['Name has already been taken'] }]);
  });

  it('bulk custom fields create labels and fail taken ones', async () => {
    ctx.sandbox.store.createCustomField('Existing');
    const res = await ctx.http.post('/v4/bulk/custom_fields', {
      custom_fields: [{ label: 'Interests' }, { label: 'Existing' }],
    });
    expect(res.status).toBe(200);
    expect(res.data.custom_fields).toEqual([
      expect.objectContaining({ label: 'Interests', key: 'interests', created_at: expect.any(String) }),
    ]);
    expect(res.data.failures).toEqual([
      { custom_field: expect.objectContaining({ label: 'Existing' }), errors: ['Label has already been taken'] },
    ]);
  });

  it('bulk subscribers > 100 are applied asynchronously even without a callback_url', async () => {
    const subscribers = Array.from({ length: 120 }, (_, i) => ({ email_address: `async${i}@example.com` }));
    const res = await ctx.http.post('/v4/bulk/subscribers', { subscribers });
    expect(res.status).toBe(202);
    await ctx.sandbox.bulkIdle();
    expect(ctx.sandbox.store.counts().subscribers).toBe(120);
  });
});
