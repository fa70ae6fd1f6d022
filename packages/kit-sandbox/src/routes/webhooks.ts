import { SortedArraySequence } from '../keyedSequence';
import { idCursors, pageOf, parsePageParams } from '../pagination';
import { webhookJson } from '../render';
import type { Route } from '../router';
import { idParam, type RouteContext } from './context';

export function webhookRoutes({ store }: RouteContext): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v4/webhooks',
      handle: ({ query }) => {
        const page = pageOf({
          sequence: new SortedArraySequence(store.listWebhooks(), (w) => w.id),
          codec: idCursors,
          order: 'desc',
          params: parsePageParams(query),
          matches: () => true,
        });
        return {
          status: 200,
          body: { webhooks: page.items.map((w) => webhookJson(w, store.account.id)), pagination: page.pagination },
        };
      },
    },
    {
      method: 'POST',
      pattern: '/v4/webhooks',
      handle: ({ body }) => ({
        status: 201,
        body: { webhook: webhookJson(store.createWebhook(body.event, body.target_url), store.account.id) },
      }),
    },
    {
      method: 'DELETE',
      pattern: '/v4/webhooks/:id',
      handle: (x) => {
        store.deleteWebhook(idParam(x, 'id'));
        return { status: 204 };
      },
    },
  ];
}
