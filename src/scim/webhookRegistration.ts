import type { KitApi } from '../kit/api';
import { SUBSCRIBER_STATE_EVENTS } from './webhookHints';

// Registers the server's Kit webhooks at start-up, idempotently: the wanted ones (one per event, at
// <PUBLIC_BASE_URL>/kit/webhooks/<secret>/<event>) are kept when present and created when missing, and every
// other webhook under <PUBLIC_BASE_URL>/kit/webhooks/ is the server's own and stale (an old secret, a
// duplicate from two replicas starting at once, an event no longer wanted): deleted. Webhooks of other
// integrations (any other target URL) are never touched.
//
// Only the four subscriber-state events: they are what meta.lastModified, `active` and the mirror depend on.
// Not tag_add/tag_remove: Kit needs one webhook per tag, so every group would cost a webhook kept in step
// with group creation, renames and retirement (and Kit's app lists each as a rule); memberships changed in Kit
// reach User.groups through the membership index within PAGE_CACHE_TTL_SECONDS instead. Not form_subscribe:
// one webhook per form for the same reason, and a form subscription that creates or re-activates a subscriber
// already fires subscriber_activate.

export const WEBHOOK_PATH = '/kit/webhooks';

export interface RegistrationResult {
  kept: number;
  created: number;
  deleted: number;
}

export function webhookTarget(baseUrl: string, secret: string, event: string): string {
  return `${baseUrl}${WEBHOOK_PATH}/${secret}/${event.replace(/^subscriber\./, '')}`;
}

export async function registerWebhooks(
  webhooks: NonNullable<KitApi['webhooks']>,
  baseUrl: string,
  secret: string,
): Promise<RegistrationResult> {
  const opts = { priority: 'background' as const };
  const ours = `${baseUrl}${WEBHOOK_PATH}/`;
  const wanted = new Map<string, string>(
    SUBSCRIBER_STATE_EVENTS.map((e) => [webhookTarget(baseUrl, secret, e), e.replace(/^subscriber\./, '')]),
  );
  const result: RegistrationResult = { kept: 0, created: 0, deleted: 0 };
  for (const hook of await webhooks.list(opts)) {
    if (!hook.target_url.startsWith(ours)) continue;
    const event = wanted.get(hook.target_url);
    if (event !== undefined && hook.event?.name?.replace(/^subscriber\./, '') === event) {
      wanted.delete(hook.target_url);
      result.kept += 1;
    } else {
      await webhooks.delete(hook.id, opts);
      result.deleted += 1;
    }
  }
  for (const [target, event] of wanted) {
    await webhooks.create(`subscriber.${event}`, target, opts);
    result.created += 1;
  }
  return result;
}
