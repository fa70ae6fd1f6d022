import { startReceiver } from './callbackReceiver';
import { useSandbox } from './sandboxHttp';

const ctx = useSandbox();

describe('webhooks', () => {
  it('creates, lists and deletes webhooks in Kit’s shapes', async () => {
    const tag = ctx.sandbox.store.createTag('Hooked');
    const created = await ctx.http.post('/v4/webhooks', {
      target_url: 'https://example.com/hook',
      event: { name: 'subscriber.tag_add', tag_id: tag.id },
    });
    expect(created.status).toBe(201);
    expect(created.data.webhook).toEqual({
      id: expect.any(Number),
      account_id: expect.any(Number),
      event: { name: 'tag_add', tag_id: tag.id },
      target_url: 'https://example.com/hook',
    });
    expect(
      (await ctx.http.post('/v4/webhooks', { target_url: 'https://x.test', event: { name: 'tag_add' } })).status,
    ).toBe(422);
    expect(
      (await ctx.http.post('/v4/webhooks', { target_url: 'nope', event: { name: 'subscriber_activate' } })).status,
    ).toBe(422);
    const list = await ctx.http.get('/v4/webhooks');
    expect(list.data.webhooks.map((w: { id: number }) => w.id)).toEqual([created.data.webhook.id]);
    expect((await ctx.http.delete(`/v4/webhooks/${created.data.webhook.id}`)).status).toBe(204);
    expect((await ctx.http.delete(`/v4/webhooks/${created.data.webhook.id}`)).status).toBe(404);
    expect((await ctx.http.get('/v4/webhooks')).data.webhooks).toEqual([]);
  });

  it('delivers {subscriber} to the target when the event happens', async () => {
    const receiver = await startReceiver();
    try {
      const { store } = ctx.sandbox;
      const tag = store.createTag('Deliver');
      const s = store.addSubscriber({ email_address: 'hooked@example.com' });
      await ctx.http.post('/v4/webhooks', {
        target_url: `${receiver.url}/unsub`,
        event: { name: 'subscriber.subscriber_unsubscribe' },
      });
      await ctx.http.post('/v4/webhooks', {
        target_url: `${receiver.url}/tag`,
        event: { name: 'tag_add', tag_id: tag.id },
      });
      await ctx.http.post(`/v4/tags/${tag.id}/subscribers/${s.id}`);
      await ctx.http.post(`/v4/subscribers/${s.id}/unsubscribe`);
      const got = await receiver.waitFor(2);
      const byPath = Object.fromEntries(got.map((d) => [d.path, d.body]));
      expect(byPath['/tag'].subscriber).toMatchObject({ id: s.id, email_address: 'hooked@example.com' });
      expect(byPath['/unsub'].subscriber).toMatchObject({ id: s.id, state: 'inactive' });
    } finally {
      await receiver.close();
    }
  });
});
