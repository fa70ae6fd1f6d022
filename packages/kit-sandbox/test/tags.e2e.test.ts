import { useSandbox } from './sandboxHttp';

const ctx = useSandbox();

beforeEach(() => ctx.sandbox.store.reset());

describe('tags', () => {
  it('creates with 201 and refuses a taken name case-insensitively', async () => {
    const created = await ctx.http.post('/v4/tags', { name: 'Engineering' });
    expect(created.status).toBe(201);
    expect(created.data.tag).toEqual({ id: expect.any(Number), name: 'Engineering', created_at: expect.any(String) });
    const dup = await ctx.http.post('/v4/tags', { name: '  engineering ' });
    expect(dup.status).toBe(422);
    expect(dup.data).toEqual({ errors: ['Name has already been taken'] });
    expect((await ctx.http.post('/v4/tags', { name: ' ' })).status).toBe(422);
  });

  it('renames, with the same uniqueness rule, and allows a case-only rename of itself', async () => {
    const a = ctx.sandbox.store.createTag('Sales');
    ctx.sandbox.store.createTag('Support');
    const clash = await ctx.http.put(`/v4/tags/${a.id}`, { name: 'SUPPORT' });
    expect(clash.status).toBe(422);
    expect(clash.data).toEqual({ errors: ['Name has already been taken'] });
    const renamed = await ctx.http.put(`/v4/tags/${a.id}`, { name: 'Revenue' });
    expect(renamed.status).toBe(200);
    expect(renamed.data.tag).toMatchObject({ id: a.id, name: 'Revenue' });
    expect((await ctx.http.put(`/v4/tags/${a.id}`, { name: 'REVENUE' })).status).toBe(200);
    expect((await ctx.http.post('/v4/tags', { name: 'Sales' })).status).toBe(201);
    expect((await ctx.http.put('/v4/tags/9999', { name: 'x' })).status).toBe(404);
  });

  it('lists tags newest first with Kit pagination', async () => {
    const { store } = ctx.sandbox;
    const ids = ['A', 'B', 'C'].map((n) => store.createTag(n).id);
    const page = await ctx.http.get('/v4/tags?per_page=2');
    expect(page.data.tags.map((t: { id: number }) => t.id)).toEqual([ids[2], ids[1]]);
    expect(page.data.pagination.has_next_page).toBe(true);
    const next = await ctx.http.get(`/v4/tags?per_page=2&after=${encodeURIComponent(page.data.pagination.end_cursor)}`);
    expect(next.data.tags.map((t: { name: string }) => t.name)).toEqual(['A']);
    expect(next.data.pagination.has_next_page).toBe(false);
  });

  it('tags by id (201, then 200 when already tagged) and untags (204, then 404)', async () => {
    const { store } = ctx.sandbox;
    const tag = store.createTag('Admins');
    const s = store.addSubscriber({ email_address: 't@example.com' });
    const first = await ctx.http.post(`/v4/tags/${tag.id}/subscribers/${s.id}`, {});
    expect(first.status).toBe(201);
    expect(first.data.subscriber).toMatchObject({
      id: s.id,
      email_address: 't@example.com',
      tagged_at: expect.any(String),
    });
    expect(first.data.subscriber.fields).toEqual({});
    const again = await ctx.http.post(`/v4/tags/${tag.id}/subscribers/${s.id}`);
    expect(again.status).toBe(200);
    expect(again.data.subscriber.tagged_at).toBe(first.data.subscriber.tagged_at);
    expect(store.subscribersOfTag(tag.id)).toEqual([s.id]);

    const removed = await ctx.http.delete(`/v4/tags/${tag.id}/subscribers/${s.id}`);
    expect(removed.status).toBe(204);
    expect(removed.data).toBe('');
    const notTagged = await ctx.http.delete(`/v4/tags/${tag.id}/subscribers/${s.id}`);
    expect(notTagged.status).toBe(404);
    expect(notTagged.data).toEqual({ errors: ['Not Found'] });
    expect(store.subscribersOfTag(tag.id)).toEqual([]);
  });

  it('tags and untags by email address', async () => {
    const { store } = ctx.sandbox;
    const tag = store.createTag('Email');
    const s = store.addSubscriber({ email_address: 'byemail@example.com' });
    const tagged = await ctx.http.post(`/v4/tags/${tag.id}/subscribers`, { email_address: 'ByEmail@Example.com' });
    expect(tagged.status).toBe(201);
    expect(tagged.data.subscriber.id).toBe(s.id);
    expect((await ctx.http.post(`/v4/tags/${tag.id}/subscribers`, {})).status).toBe(422);
    expect(
      (await ctx.http.post(`/v4/tags/${tag.id}/subscribers`, { email_address: 'nobody@example.com' })).status,
    ).toBe(404);
    const untagged = await ctx.http.delete(`/v4/tags/${tag.id}/subscribers`, {
      data: { email_address: 'byemail@example.com' },
    });
    expect(untagged.status).toBe(204);
    expect(store.tagsOfSubscriber(s.id)).toEqual([]);
  });

  it('404s for an unknown tag or subscriber on every tag route', async () => {
    const { store } = ctx.sandbox;
    const tag = store.createTag('Known');
    const s = store.addSubscriber({ email_address: 'k@example.com' });
    const calls = [
      ctx.http.post(`/v4/tags/999/subscribers/${s.id}`),
      ctx.http.post(`/v4/tags/${tag.id}/subscribers/999`),
      ctx.http.delete(`/v4/tags/999/subscribers/${s.id}`),
      ctx.http.get('/v4/tags/999/subscribers'),
      ctx.http.post('/v4/tags/999/subscribers', { email_address: 'k@example.com' }),
    ];
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ errors: ['Not Found'] });
    }
  });

  it('lists a tag’s subscribers with tagged_at, the status filter (default active), cursors and totals', async () => {
    const { store } = ctx.sandbox;
    const tag = store.createTag('Members');
    const ids = store.seedSubscribers(5).ids;
    store.tagSubscribers(tag.id, ids);
    store.setState(ids[1], 'bounced');
    await ctx.http.post(`/v4/subscribers/${ids[2]}/unsubscribe`);

    const active = await ctx.http.get(`/v4/tags/${tag.id}/subscribers?include_total_count=true`);
    expect(active.status).toBe(200);
    expect(active.data.subscribers.map((s: { id: number }) => s.id)).toEqual([ids[4], ids[3], ids[0]]);
    expect(active.data.subscribers[0]).toEqual({
      id: ids[4],
      first_name: null,
      email_address: expect.any(String),
      state: 'active',
      created_at: expect.any(String),
      tagged_at: expect.any(String),
      fields: {},
    });
    expect(active.data.pagination.total_count).toBe(3);

    const inactive = await ctx.http.get(`/v4/tags/${tag.id}/subscribers?status=inactive`);
    expect(inactive.data.subscribers.map((s: { id: number }) => s.id)).toEqual([ids[2]]);

    const all: number[] = [];
    let cursor = '';
    for (;;) {
      const res = await ctx.http.get(
        `/v4/tags/${tag.id}/subscribers?status=all&per_page=2${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
      );
      all.push(...res.data.subscribers.map((s: { id: number }) => s.id));
      if (!res.data.pagination.has_next_page) break;
      cursor = res.data.pagination.end_cursor;
    }
    expect(all).toEqual([...ids].reverse());
  });

  it('lists a subscriber’s tags with tagged_at', async () => {
    const { store } = ctx.sandbox;
    const s = store.addSubscriber({ email_address: 'many@example.com' });
    const a = store.createTag('A');
    const b = store.createTag('B');
    store.createTag('C');
    await ctx.http.post(`/v4/tags/${a.id}/subscribers/${s.id}`);
    await ctx.http.post(`/v4/tags/${b.id}/subscribers/${s.id}`);
    const res = await ctx.http.get(`/v4/subscribers/${s.id}/tags`);
    expect(res.status).toBe(200);
    expect(res.data.tags).toEqual([
      { id: b.id, name: 'B', tagged_at: expect.any(String) },
      { id: a.id, name: 'A', tagged_at: expect.any(String) },
    ]);
    expect(res.data.pagination.has_next_page).toBe(false);
    expect((await ctx.http.get('/v4/subscribers/4040/tags')).status).toBe(404);
  });
});
