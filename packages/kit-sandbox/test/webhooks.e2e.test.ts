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

describe('webhook order against the API answer', () => {
  /** Subscribes a receiver to unsubscribes, unsubscribes one subscriber, and says in which order they came. */
  async function unsubscribeInOrder(order: 'beforeAnswer' | 'afterAnswer') {
    const receiver = await startReceiver();
    const seen: string[] = [];
    try {
      const s = ctx.sandbox.store.addSubscriber({ email_address: `order-${order}@example.com` });
      await ctx.http.post('/v4/webhooks', {
        target_url: `${receiver.url}/unsub`,
        event: { name: 'subscriber.subscriber_unsubscribe' },
      });
      ctx.sandbox.webhooks.setOrder(order);
      const answered = ctx.http.post(`/v4/subscribers/${s.id}/unsubscribe`).then((res) => {
        seen.push(`answer ${res.status} with ${receiver.received.length} deliveries`);
      });
      const delivered = receiver.waitFor(1).then(() => seen.push('delivery'));
      await Promise.all([answered, delivered]);
      expect(receiver.received[0].body.subscriber).toMatchObject({ id: s.id, state: 'inactive' });
      return seen;
    } finally {
      ctx.sandbox.webhooks.setOrder('immediate');
      await receiver.close();
    }
  }

  it('beforeAnswer: the delivery has been received before the call that caused it is answered', async () => {
    const seen = await unsubscribeInOrder('beforeAnswer');
    expect(seen[seen.length - 1]).toMatch(/^answer 204 with 1 deliveries$/);
  });

  it('afterAnswer: the delivery is sent only once the answer has been written', async () => {
    const seen = await unsubscribeInOrder('afterAnswer');
    expect(seen).toEqual(['answer 204 with 0 deliveries', 'delivery']);
  });
});
