import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { WEBHOOK_PATH } from '../scim/webhookRegistration';
import type { WebhookHints } from '../scim/webhookHints';

// POST <WEBHOOK_PATH>/<secret>/<event>: Kit's webhook deliveries. Kit does not sign them, so the only thing
// that keeps strangers out is the unguessable secret in the path (compared in constant time); and even a
// delivery that gets in is only a hint (webhookHints.ts). The path holds the secret, so this route is mounted
// before the access log and logs deliveries itself, without it (the secret is also masked in every log line).
// Anything else under the path falls through to the SCIM 404.
//
// With several tenants each Kit account has its own secret (derived from its credential), which is
// also what tells the deliveries apart: the secret in the path names the Kit account, and the delivery reaches
// every tenant on that account (tenants sharing one keep their own mirror and journal).

/** One Kit account's deliveries: its secret, and where they go. */
export interface WebhookTarget {
  secret: string;
  /** Undefined until the start-up checks passed. */
  hints: () => WebhookHints | undefined;
  logger: Logger;
}

export interface WebhookReceiverDeps {
  /** The targets at the time of a delivery (a reload may change them). */
  targets: () => readonly WebhookTarget[];
}

/** The targets whose secret is `given`; every secret is compared, so timing tells nothing of which matched. */
function targetsOf(targets: readonly WebhookTarget[], given: string): WebhookTarget[] {
  const presented = Buffer.from(given);
  const found: WebhookTarget[] = [];
  for (const target of targets) {
    const expected = Buffer.from(target.secret);
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) found.push(target);
  }
  return found;
}

export function webhookReceiver(deps: WebhookReceiverDeps): Router {
  const router = express.Router();
  const json = express.json({ limit: '64kb', type: () => true });
  router.post(`${WEBHOOK_PATH}/:secret/:event`, (req: Request, res: Response, next: NextFunction) => {
    const targets = targetsOf(deps.targets(), String(req.params.secret));
    if (targets.length === 0) return next();
    json(req, res, (err?: unknown) => {
      if (err) {
        res.status(400).json({ error: 'a Kit webhook delivery is a JSON object with a subscriber' });
        return;
      }
      const hints = targets.map((t) => t.hints());
      // Kit retries a delivery that is not accepted: it comes back once every tenant on the account can take it.
      if (hints.some((h) => !h)) {
        res.status(503).set('Retry-After', '5').json({ error: 'starting' });
        return;
      }
      const event = String(req.params.event).slice(0, 64);
      const accepted = hints.map((h) => h!.accept(req.body));
      if (!accepted.every(Boolean)) {
        targets[0].logger.warn({ event }, 'Kit webhook delivery without a subscriber id ignored');
        res.status(400).json({ error: 'a Kit webhook delivery is a JSON object with a subscriber' });
        return;
      }
      for (const target of targets) target.logger.debug({ event }, 'Kit webhook delivery accepted');
      res.status(204).end();
    });
  });
  return router;
}
