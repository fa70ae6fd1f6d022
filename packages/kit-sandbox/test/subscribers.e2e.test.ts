import { manualClock, useSandbox } from './sandboxHttp';

const clock = manualClock();
const ctx = useSandbox({ now: clock.now });

beforeEach(() => ctx.sandbox.store.reset());

describe('POST /v4/subscribers (upsert by email)', () => {
  it('creates with 201 and answers an existing email with 200, updating first_name but never the state', async () => {
    const { http, sandbox } = ctx;
    const created = await http.post('/v4/subscribers', { email_address: 'ada@example.com', first_name: 'Ada' });
    expect(created.status).toBe(201);
    expect(created.data.subscriber).toEqual({
      id: expect.any(Number),
      first_name: 'Ada',
      email_address: 'ada@example.com',
      state: 'active',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      fields: {},
    });
    const id = created.data.subscriber.id;

    await http.post(`/v4/subscribers/${id}/unsubscribe`);
    const again = await http.post('/v4/subscribers', {
      email_address: 'ADA@example.com',
      first_name: 'Augusta',
      state: 'active',
    });
    expect(again.status).toBe(200);
    expect(again.data.subscriber.id).toBe(id);
    expect(again.data.subscriber.first_name).toBe('Augusta');
    expect(again.data.subscriber.state).toBe('inactive');
    expect(sandbox.store.counts().subscribers).toBe(1);
  });

  it('applies `state` on creation only', async () => {
    const res = await ctx.http.post('/v4/subscribers', { email_address: 'b@example.com', state: 'cancelled' });
    expect(res.status).toBe(201);
    expect(res.data.subscriber.state).toBe('cancelled');
    const again = await ctx.http.post('/v4/subscribers', { email_address: 'b@example.com', state: 'active' });
    expect(again.data.subscriber.state).toBe('cancelled');
  });

  it('keeps first_name when an upsert does not send it', async () => {
    await ctx.http.post('/v4/subscribers', { email_address: 'k@example.com', first_name: 'Kay' });
    const res = await ctx.http.post('/v4/subscribers', { email_address: 'k@example.com' });
    expect(res.data.subscriber.first_name).toBe('Kay');
  });

  it('stores emails trimmed and lower-cased', async () => {
    const res = await ctx.http.post('/v4/subscribers', { email_address: '  Grace.Hopper@Example.COM ' });
    expect(res.data.subscriber.email_address).toBe('grace.hopper@example.com');
  });

  it.each([['not-an-email'], [''], [undefined], ['two@@example.com']])('422 for the email %p', async (email) => {
    const res = await ctx.http.post('/v4/subscribers', { email_address: email, first_name: 'X' });
    expect(res.status).toBe(422);
    expect(res.data).toEqual({ errors: ['Email address is invalid'] });
  });

  it('422 for an unknown state', async () => {
    const res = await ctx.http.post('/v4/subscribers', { email_address: 's@example.com', state: 'zombie' });
    expect(res.status).toBe(422);
    expect(res.data.errors).toHaveLength(1);
  });
});

describe('custom field values', () => {
  it('silently drops values for unknown fields, with no error, and reports every account field', async () => {
    const { http, sandbox } = ctx;
    sandbox.store.createCustomField('Last name');
    sandbox.store.createCustomField('Department');
    const res = await http.post('/v4/subscribers', {
      email_address: 'f@example.com',
      fields: { last_name: 'Lovelace', favourite_colour: 'green' },
    });
    expect(res.status).toBe(201);
    expect(res.data.subscriber.fields).toEqual({ last_name: 'Lovelace', department: null });
    const read = await http.get(`/v4/subscribers/${res.data.subscriber.id}`);
    expect(read.data.subscriber.fields).not.toHaveProperty('favourite_colour');
  });

  it('accepts a field label as the key, and null clears a value', async () => {
    const { http, sandbox } = ctx;
    sandbox.store.createCustomField('Last name');
    const res = await http.post('/v4/subscribers', {
      email_address: 'l@example.com',
      fields: { 'Last name': 'Byron' },
    });
    expect(res.data.subscriber.fields).toEqual({ last_name: 'Byron' });
    const cleared = await http.put(`/v4/subscribers/${res.data.subscriber.id}`, { fields: { last_name: null } });
    expect(cleared.data.subscriber.fields).toEqual({ last_name: null });
  });
});

describe('GET /v4/subscribers/:id', () => {
  it('404s with Kit’s body for an unknown or malformed id', async () => {
    for (const path of ['/v4/subscribers/999999', '/v4/subscribers/abc']) {
      const res = await ctx.http.get(path);
      expect(res.status).toBe(404);
      expect(res.data).toEqual({ errors: ['Not Found'] });
    }
  });
});

describe('PUT /v4/subscribers/:id', () => {
  it('changes only what is sent', async () => {
    const { http, sandbox } = ctx;
    sandbox.store.createCustomField('Last name');
    sandbox.store.createCustomField('Role');
    const s = sandbox.store.addSubscriber({
      email_address: 'p@example.com',
      first_name: 'Pat',
      fields: { last_name: 'Smith', role: 'Admin' },
    });
    const res = await http.put(`/v4/subscribers/${s.id}`, { fields: { role: 'Owner' } });
    expect(res.status).toBe(200);
    expect(res.data.subscriber).toMatchObject({
      first_name: 'Pat',
      email_address: 'p@example.com',
      fields: { last_name: 'Smith', role: 'Owner' },
    });
  });

  it('changes the email, and 422s when another subscriber has it (case-insensitively)', async () => {
    const { http, sandbox } = ctx;
    const a = sandbox.store.addSubscriber({ email_address: 'a@example.com' });
    sandbox.store.addSubscriber({ email_address: 'b@example.com' });
    const clash = await http.put(`/v4/subscribers/${a.id}`, { email_address: 'B@Example.com' });
    expect(clash.status).toBe(422);
    expect(clash.data).toEqual({ errors: ['Email address has already been taken'] });
    expect(sandbox.store.getSubscriber(a.id)!.email_address).toBe('a@example.com');

    const moved = await http.put(`/v4/subscribers/${a.id}`, { email_address: 'New@Example.com' });
    expect(moved.status).toBe(200);
    expect(moved.data.subscriber.email_address).toBe('new@example.com');
    expect(sandbox.store.findByEmail('a@example.com')).toBeUndefined();
    expect(sandbox.store.findByEmail('NEW@example.com')!.id).toBe(a.id);
  });

  it('does not let PUT change the state', async () => {
    const s = ctx.sandbox.store.addSubscriber({ email_address: 'st@example.com', state: 'inactive' });
    const res = await ctx.http.put(`/v4/subscribers/${s.id}`, { state: 'active', first_name: 'S' });
    expect(res.data.subscriber.state).toBe('inactive');
  });

  it('404s for an unknown subscriber', async () => {
    expect((await ctx.http.put('/v4/subscribers/4242', { first_name: 'x' })).status).toBe(404);
  });
});

describe('POST /v4/subscribers/:id/unsubscribe', () => {
  it('answers 204 without a body, as the v4 reference says', async () => {
    const { http, sandbox } = ctx;
    const s = sandbox.store.addSubscriber({ email_address: 'nobody@example.com' });
    const res = await http.post(`/v4/subscribers/${s.id}/unsubscribe`, {}, { responseType: 'text' });
    expect(res.status).toBe(204);
    expect(res.data).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
    expect(sandbox.store.getSubscriber(s.id)?.state).toBe('inactive');
  });

  it('is one-way: the subscriber becomes inactive and no API call brings it back', async () => {
    const { http, sandbox } = ctx;
    const s = sandbox.store.addSubscriber({ email_address: 'u@example.com' });
    const res = await http.post(`/v4/subscribers/${s.id}/unsubscribe`, {});
    expect(res.status).toBe(204);
    expect((await http.get(`/v4/subscribers/${s.id}`)).data.subscriber).toMatchObject({ id: s.id, state: 'inactive' });

    await http.post('/v4/subscribers', { email_address: 'u@example.com', state: 'active' });
    await http.put(`/v4/subscribers/${s.id}`, { state: 'active' });
    expect((await http.get(`/v4/subscribers/${s.id}`)).data.subscriber.state).toBe('inactive');
    expect((await http.post('/v4/subscribers/777/unsubscribe')).status).toBe(404);
  });
});

describe('POST /v4/subscribers/:id/unsubscribe with the integration notes’ answer', () => {
  const notes = useSandbox({ now: clock.now, unsubscribeAnswer: 'subscriber' });

  it('answers 200 with the now inactive subscriber', async () => {
    const s = notes.sandbox.store.addSubscriber({ email_address: 'notes@example.com' });
    const res = await notes.http.post(`/v4/subscribers/${s.id}/unsubscribe`, {});
    expect(res.status).toBe(200);
    expect(res.data.subscriber).toMatchObject({ id: s.id, state: 'inactive' });
  });
});

describe('GET /v4/subscribers filters', () => {
  async function ids(query: string): Promise<number[]> {
    const res = await ctx.http.get(`/v4/subscribers?${query}`);
    expect(res.status).toBe(200);
    return res.data.subscribers.map((s: { id: number }) => s.id);
  }

  it('defaults to active, filters each state, and `all`', async () => {
    const { store } = ctx.sandbox;
    const byState = Object.fromEntries(
      (['active', 'inactive', 'bounced', 'complained', 'cancelled'] as const).map((state) => [
        state,
        store.addSubscriber({ email_address: `${state}@example.com`, state }).id,
      ]),
    );
    expect(await ids('')).toEqual([byState.active]);
    for (const state of ['inactive', 'bounced', 'complained', 'cancelled']) {
      expect(await ids(`status=${state}`)).toEqual([byState[state]]);
    }
    expect((await ids('status=all')).sort((a, b) => a - b)).toEqual(Object.values(byState).sort((a, b) => a - b));
    expect((await ctx.http.get('/v4/subscribers?status=gone')).status).toBe(422);
  });

  it('sorts by id descending by default, ascending on request', async () => {
    const seeded = ctx.sandbox.store.seedSubscribers(5);
    expect(await ids('')).toEqual([...seeded.ids].reverse());
    expect(await ids('sort_order=asc')).toEqual(seeded.ids);
  });

  it('matches email_address exactly and case-insensitively, over the status filter', async () => {
    const { store } = ctx.sandbox;
    const a = store.addSubscriber({ email_address: 'match@example.com' });
    store.addSubscriber({ email_address: 'match@example.com.au' });
    store.addSubscriber({ email_address: 'xmatch@example.com' });
    const gone = store.addSubscriber({ email_address: 'gone@example.com', state: 'inactive' });
    expect(await ids('email_address=MATCH%40Example.com')).toEqual([a.id]);
    expect(await ids('email_address=match')).toEqual([]);
    expect(await ids('email_address=gone%40example.com')).toEqual([]);
    expect(await ids('email_address=gone%40example.com&status=all')).toEqual([gone.id]);
  });

  it('filters created_* and updated_* inclusive-exclusive, with dates or ISO date-times', async () => {
    const { store } = ctx.sandbox;
    const mar1 = store.addSubscriber({ email_address: 'mar1@example.com', created_at: '2024-03-01T00:00:00Z' }).id;
    const mar1late = store.addSubscriber({ email_address: 'mar1b@example.com', created_at: '2024-03-01T23:59:59Z' }).id;
    const mar2 = store.addSubscriber({ email_address: 'mar2@example.com', created_at: '2024-03-02T00:00:00Z' }).id;
    expect(await ids('created_after=2024-03-01&created_before=2024-03-02&sort_order=asc')).toEqual([mar1, mar1late]);
    expect(await ids('created_after=2024-03-01T12:00:00Z&sort_order=asc')).toEqual([mar1late, mar2]);
    expect(await ids('created_before=2024-03-01T23:59:59.000Z')).toEqual([mar1]);
    expect((await ctx.http.get('/v4/subscribers?created_after=yesterday')).status).toBe(422);
    expect((await ctx.http.get('/v4/subscribers?created_after=2024-02-31')).status).toBe(422);

    clock.set(Date.UTC(2024, 5, 1, 10));
    const touched = store.addSubscriber({ email_address: 'touched@example.com' }).id;
    clock.set(Date.UTC(2024, 5, 3, 10));
    await ctx.http.put(`/v4/subscribers/${mar1}`, { first_name: 'changed' });
    expect(await ids('updated_after=2024-06-02')).toEqual([mar1]);
    expect(await ids('updated_after=2024-06-01&updated_before=2024-06-02')).toEqual([touched]);
  });

  it('sort_field=updated_at follows every change, tagging and unsubscribing included', async () => {
    const { store } = ctx.sandbox;
    const [a, b, c] = store.seedSubscribers(3).ids;
    const tag = store.createTag('Moves');
    clock.advance(1000);
    await ctx.http.post(`/v4/tags/${tag.id}/subscribers/${a}`);
    clock.advance(1000);
    await ctx.http.post(`/v4/subscribers/${b}/unsubscribe`);
    expect(await ids('sort_field=updated_at&sort_order=asc&status=all')).toEqual([c, a, b]);
    expect(await ids('sort_field=updated_at&status=all')).toEqual([b, a, c]);
  });

  it('sort_field=cancelled_at needs status=cancelled', async () => {
    const res = await ctx.http.get('/v4/subscribers?sort_field=cancelled_at');
    expect(res.status).toBe(422);
    expect(res.data.errors[0]).toMatch(/cancelled/);
    const { store } = ctx.sandbox;
    const first = store.addSubscriber({ email_address: 'c1@example.com', state: 'cancelled' }).id;
    const second = store.addSubscriber({ email_address: 'c2@example.com' }).id;
    clock.advance(1000);
    store.setState(second, 'cancelled');
    expect(await ids('status=cancelled&sort_field=cancelled_at&sort_order=asc')).toEqual([first, second]);
    expect((await ctx.http.get('/v4/subscribers?sort_field=name')).status).toBe(422);
  });
});
