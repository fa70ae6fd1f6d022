import { unreadAnswer, webhookAnswer, webhookPage } from '../answers';
import type { KitCaller } from '../caller';
import { collectAll, cursorPages, pageQuery } from '../pagination';
import type { CallOptions, KitWebhook } from '../types';

// Kit's webhooks (kit-api-v4 "Webhooks": GET/POST /v4/webhooks, DELETE /v4/webhooks/{id}). Kit answers the
// event name without its "subscriber." prefix. Kit does not sign deliveries: whoever knows a target URL can
// post to it, so a receiver must treat a delivery as a hint, never as the truth.

export interface KitWebhooksApi {
  /** Every webhook of the account (all pages). */
  list(opts?: CallOptions): Promise<KitWebhook[]>;
  /** `event` as Kit takes it, e.g. "subscriber.subscriber_unsubscribe". */
  create(event: string, targetUrl: string, opts?: CallOptions): Promise<KitWebhook>;
  /** A 404 on a repeat after an ambiguous attempt means the first one deleted it. */
  delete(id: number, opts?: CallOptions): Promise<void>;
}

/** The webhook calls over the client's one exchange loop (limiter, retries, errors). */
export function webhookCalls(caller: KitCaller): KitWebhooksApi {
  return {
    list: (o) =>
      collectAll(
        cursorPages((after) =>
          caller.data(
            {
              method: 'GET',
              endpoint: 'GET /v4/webhooks',
              path: '/v4/webhooks',
              query: pageQuery({ after }),
              repeat: 'idempotent',
              answer: webhookPage,
            },
            o,
          ),
        ),
      ),
    create: async (event, targetUrl, o) => {
      const answer = await caller.data(
        {
          method: 'POST',
          endpoint: 'POST /v4/webhooks',
          path: '/v4/webhooks',
          body: { target_url: targetUrl, event: { name: event } },
          // Kit takes the same target and event twice: a repeat would deliver every event twice.
          repeat: 'once',
          answer: webhookAnswer,
        },
        o,
      );
      return answer.webhook;
    },
    delete: async (id, o) => {
      await caller.callAccepting(
        {
          method: 'DELETE',
          endpoint: 'DELETE /v4/webhooks/:id',
          path: `/v4/webhooks/${id}`,
          // A repeat finds the webhook gone (404): the first attempt deleted it.
          repeat: 'idempotent',
          answer: unreadAnswer,
        },
        o,
        (status, ambiguousBefore) => ambiguousBefore && status === 404,
      );
    },
  };
}
