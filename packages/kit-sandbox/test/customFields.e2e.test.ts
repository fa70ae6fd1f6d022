import { keyForLabel } from '../src/customFieldCatalog';
import { useSandbox } from './sandboxHttp';

const ctx = useSandbox();

beforeEach(() => ctx.sandbox.store.reset());

describe('custom fields', () => {
  it('derives an ASCII, lower-cased, underscored key from the label', () => {
    expect(keyForLabel('Last name')).toBe('last_name');
    expect(keyForLabel('How did you hear about us?')).toBe('how_did_you_hear_about_us');
    expect(keyForLabel('  Café Owner ')).toBe('cafe_owner');
  });

  it('creates (201) with key and name, and 422s on a taken or blank label', async () => {
    const res = await ctx.http.post('/v4/custom_fields', { label: ' Last name ' });
    expect(res.status).toBe(201);
    expect(res.data.custom_field).toEqual({
      id: expect.any(Number),
      name: `ck_field_${res.data.custom_field.id}_last_name`,
      key: 'last_name',
      label: 'Last name',
    });
    const dup = await ctx.http.post('/v4/custom_fields', { label: 'last name' });
    expect(dup.status).toBe(422);
    expect(dup.data.errors).toEqual(['Label has already been taken']);
    expect((await ctx.http.post('/v4/custom_fields', { label: '' })).status).toBe(422);
  });

  it('lists fields with pagination', async () => {
    ctx.sandbox.store.createCustomField('One');
    ctx.sandbox.store.createCustomField('Two');
    const res = await ctx.http.get('/v4/custom_fields');
    expect(res.status).toBe(200);
    expect(res.data.custom_fields.map((f: { key: string }) => f.key)).toEqual(['one', 'two']);
    expect(res.data.pagination).toMatchObject({ has_next_page: false, per_page: 500 });
  });

  it('rename changes label and key, keeps name and values', async () => {
    const { store } = ctx.sandbox;
    const field = store.createCustomField('Zip code');
    const s = store.addSubscriber({ email_address: 'z@example.com', fields: { zip_code: '12345' } });
    const res = await ctx.http.put(`/v4/custom_fields/${field.id}`, { label: 'Post code' });
    expect(res.status).toBe(200);
    expect(res.data.custom_field).toEqual({ id: field.id, name: field.name, key: 'post_code', label: 'Post code' });
    expect(store.getSubscriber(s.id)!.fields).toEqual({ post_code: '12345' });
    const stale = await ctx.http.put(`/v4/subscribers/${s.id}`, { fields: { zip_code: '99999' } });
    expect(stale.data.subscriber.fields).toEqual({ post_code: '12345' });
    expect((await ctx.http.put('/v4/custom_fields/999', { label: 'x' })).status).toBe(404);
  });

  it('delete removes the field and its values (204), then 404', async () => {
    const { store } = ctx.sandbox;
    const field = store.createCustomField('Temp');
    store.createCustomField('Keep');
    const s = store.addSubscriber({ email_address: 'd@example.com', fields: { temp: 'x', keep: 'y' } });
    expect((await ctx.http.delete(`/v4/custom_fields/${field.id}`)).status).toBe(204);
    expect(store.getSubscriber(s.id)!.fields).toEqual({ keep: 'y' });
    expect((await ctx.http.delete(`/v4/custom_fields/${field.id}`)).status).toBe(404);
    const recreated = store.createCustomField('Temp');
    expect(store.getSubscriber(s.id)!.fields).toEqual({ keep: 'y', temp: null });
    expect(recreated.id).not.toBe(field.id);
  });
});
