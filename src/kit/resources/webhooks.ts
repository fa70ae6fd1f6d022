import { collectAll, cursorPages, pageQuery, toPage } from '../pagination';
import type { CallHooks } from '../caller';
import type { KitRequest } from '../transport';
import type { CallOptions } from '../types';

// Kit's webhooks (kit-api-v4 "Webhooks": GET/POST /v4/webhooks, DELETE /v4/webhooks/{id}). Kit answers the
// event name without its "subscriber." prefix. Kit does not sign deliveries: whoever knows a target URL can
// post to it, so a receiver must treat a delivery as a hint, never as the truth.

export interface KitWebhook {
  id: number;
  event: { name: string; tag_id?: number | null; form_id?: number | null; [k: string]: unknown };
  target_url: string;
}

export interface KitWebhooksApi {
  /** Every webhook of the account (all pages). */
  list(opts?: CallOptions): Promise<KitWebhook[]>;
  /** `event` as Kit takes it, e.g. "subscriber.subscriber_unsubscribe". */
  create(event: string, targetUrl: string, opts?: CallOptions): Promise<KitWebhook>;
  /** A 404 on a repeat after an ambiguous attempt means the first one deleted it. */
  delete(id: number, opts?: CallOptions): Promise<void>;
}

type Call = (req: KitRequest, opts?: CallOptions, hooks?: CallHooks) => Promise<{ status: number; data: any }>;

/** The webhook calls over the client's one exchange loop (limiter, retries, errors). */
export function webhookCalls(call: Call): KitWebhooksApi {
  return {
    list: (o) =>
      collectAll(
        cursorPages(async (after) => {
          const a = await call(
            { method: 'GET', endpoint: 'GET /v4/webhooks', path: '/v4/webhooks', query: pageQuery({ after }) },
            o,
          );
          return toPage<KitWebhook>(a.data, 'webhooks');
        }),
      ),
    create: async (event, targetUrl, o) => {
      const a = await call(
        {
          method: 'POST',
          endpoint: 'POST /v4/webhooks',
          path: '/v4/webhooks',
          body: { target_url: targetUrl, event: { name: event } },
        },
        o,
      );
      return a.data.webhook as KitWebhook;
    },
    delete: async (id, o) => {
      await call({ method: 'DELETE', endpoint: 'DELETE /v4/webhooks/:id', path: `/v4/webhooks/${id}` }, o, {
        acceptStatus: (status, ambiguousBefore) => ambiguousBefore && status === 404,
      });
    },
  };
}
