import { useSandbox } from './sandboxHttp';

const ctx = useSandbox();

async function walk(query: string, direction: 'after' | 'before' = 'after', start?: string) {
  const seen: number[] = [];
  let cursor = start;
  let pages = 0;
  let last: any;
  for (;;) {
    const qs = `${query}${cursor ? `&${direction}=${encodeURIComponent(cursor)}` : ''}`;
    const res = await ctx.http.get(`/v4/subscribers?${qs}`);
    expect(res.status).toBe(200);
    pages++;
    last = res.data.pagination;
    seen.push(...res.data.subscribers.map((s: { id: number }) => s.id));
    const more = direction === 'after' ? last.has_next_page : last.has_previous_page;
    if (!more) break;
    cursor = direction === 'after' ? last.end_cursor : last.start_cursor;
    if (pages > 50) throw new Error('runaway walk');
  }
  return { seen, pages, last };
}

describe('cursor pagination over GET /v4/subscribers', () => {
  let ids: number[];
  beforeAll(() => {
    ids = ctx.sandbox.store.seedSubscribers(2_600).ids;
  });

  it('walks every id exactly once with per_page 1000, and the last page says has_next_page false', async () => {
    const { seen, pages, last } = await walk('per_page=1000');
    expect(pages).toBe(3);
    expect(seen).toHaveLength(ids.length);
    expect(new Set(seen).size).toBe(ids.length);
    expect(seen).toEqual([...ids].reverse());
    expect(last).toMatchObject({ has_next_page: false, has_previous_page: true, per_page: 1000 });
  });

  it('walks ascending too, with Kit-shaped base64 cursors', async () => {
    const first = await ctx.http.get('/v4/subscribers?per_page=1000&sort_order=asc');
    expect(first.data.pagination.has_previous_page).toBe(false);
    expect(JSON.parse(Buffer.from(first.data.pagination.end_cursor, 'base64').toString())).toEqual([ids[999]]);
    const { seen } = await walk('per_page=1000&sort_order=asc');
    expect(seen).toEqual(ids);
  });

  it('walks back with `before` from the last page to the first', async () => {
    const forward = await walk('per_page=1000');
    const back = await ctx.http.get(
      `/v4/subscribers?per_page=1000&before=${encodeURIComponent(forward.last.start_cursor)}`,
    );
    expect(back.data.subscribers.map((s: { id: number }) => s.id)).toEqual(forward.seen.slice(1000, 2000));
    expect(back.data.pagination).toMatchObject({ has_next_page: true, has_previous_page: true });

    const { seen } = await walk('per_page=1000', 'before', forward.last.start_cursor);
    expect(seen.sort((a, b) => b - a)).toEqual(forward.seen.slice(0, 2000));
  });

  it('stays exact while subscribers are inserted mid-walk (keyset cursors, not offsets)', async () => {
    const page1 = await ctx.http.get('/v4/subscribers?per_page=1000&sort_order=asc');
    ctx.sandbox.store.seedSubscribers(300, { emailPrefix: 'late' });
    const page2 = await ctx.http.get(
      `/v4/subscribers?per_page=1000&sort_order=asc&after=${encodeURIComponent(page1.data.pagination.end_cursor)}`,
    );
    expect(page2.data.subscribers[0].id).toBe(ids[1000]);
    const all = [...page1.data.subscribers, ...page2.data.subscribers].map((s: { id: number }) => s.id);
    expect(new Set(all).size).toBe(all.length);
  });

  it('adds pagination.total_count only with include_total_count=true, for the filter asked', async () => {
    const plain = await ctx.http.get('/v4/subscribers?per_page=1');
    expect(plain.data.pagination).not.toHaveProperty('total_count');
    const total = await ctx.http.get('/v4/subscribers?per_page=1&include_total_count=true');
    expect(total.data.pagination.total_count).toBe(ctx.sandbox.store.counts().byState.active);
    ctx.sandbox.store.setState(ids[0], 'bounced');
    const bounced = await ctx.http.get('/v4/subscribers?status=bounced&include_total_count=true');
    expect(bounced.data.pagination.total_count).toBe(1);
    const filtered = await ctx.http.get(
      '/v4/subscribers?status=all&include_total_count=true&created_before=2000-01-01',
    );
    expect(filtered.data.pagination.total_count).toBe(0);
  });

  it('defaults per_page to 500 and clamps above 1000', async () => {
    const res = await ctx.http.get('/v4/subscribers');
    expect(res.data.subscribers).toHaveLength(500);
    expect(res.data.pagination.per_page).toBe(500);
    const big = await ctx.http.get('/v4/subscribers?per_page=5000');
    expect(big.data.subscribers).toHaveLength(1000);
    expect(big.data.pagination.per_page).toBe(1000);
    expect((await ctx.http.get('/v4/subscribers?per_page=0')).status).toBe(422);
    expect((await ctx.http.get('/v4/subscribers?per_page=ten')).status).toBe(422);
  });

  it('422s for a cursor it did not issue, or one from another sort', async () => {
    expect((await ctx.http.get('/v4/subscribers?after=not-a-cursor')).status).toBe(422);
    const byId = await ctx.http.get('/v4/subscribers?per_page=1');
    const res = await ctx.http.get(
      `/v4/subscribers?sort_field=updated_at&after=${encodeURIComponent(byId.data.pagination.end_cursor)}`,
    );
    expect(res.status).toBe(422);
    expect(res.data.errors).toHaveLength(1);
  });

  it('an empty result has null cursors and no pages either side', async () => {
    const res = await ctx.http.get('/v4/subscribers?status=complained');
    expect(res.data).toEqual({
      subscribers: [],
      pagination: {
        has_previous_page: false,
        has_next_page: false,
        start_cursor: null,
        end_cursor: null,
        per_page: 500,
      },
    });
  });
});

describe('updated_at pagination', () => {
  it('walks each subscriber once even when the walk starts before a change, then meets the changed one again', async () => {
    const { store } = ctx.sandbox;
    store.reset();
    const ids = store.seedSubscribers(30).ids;
    const page1 = await ctx.http.get('/v4/subscribers?sort_field=updated_at&sort_order=asc&per_page=10');
    expect(page1.data.subscribers.map((s: { id: number }) => s.id)).toEqual(ids.slice(0, 10));
    store.setState(ids[3], 'bounced');
    store.setState(ids[3], 'active');
    const rest: number[] = [];
    let cursor = page1.data.pagination.end_cursor;
    for (;;) {
      const res = await ctx.http.get(
        `/v4/subscribers?sort_field=updated_at&sort_order=asc&per_page=10&after=${encodeURIComponent(cursor)}`,
      );
      rest.push(...res.data.subscribers.map((s: { id: number }) => s.id));
      if (!res.data.pagination.has_next_page) break;
      cursor = res.data.pagination.end_cursor;
    }
    expect(rest).toEqual([...ids.slice(10), ids[3]]);
  });
});
