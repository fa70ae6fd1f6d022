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

export interface WebhookReceiverDeps {
  secret: string;
  /** Undefined until the start-up checks passed. */
  hints: () => WebhookHints | undefined;
  logger: Logger;
}

export function webhookReceiver(deps: WebhookReceiverDeps): Router {
  const router = express.Router();
  const expected = Buffer.from(deps.secret);
  const json = express.json({ limit: '64kb', type: () => true });
  router.post(`${WEBHOOK_PATH}/:secret/:event`, (req: Request, res: Response, next: NextFunction) => {
    const given = Buffer.from(String(req.params.secret));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return next();
    json(req, res, (err?: unknown) => {
      if (err) {
        res.status(400).json({ error: 'a Kit webhook delivery is a JSON object with a subscriber' });
        return;
      }
      const hints = deps.hints();
      if (!hints) {
        res.status(503).set('Retry-After', '5').json({ error: 'starting' });
        return;
      }
      const event = String(req.params.event).slice(0, 64);
      if (!hints.accept(req.body)) {
        deps.logger.warn({ event }, 'Kit webhook delivery without a subscriber id ignored');
        res.status(400).json({ error: 'a Kit webhook delivery is a JSON object with a subscriber' });
        return;
      }
      deps.logger.debug({ event }, 'Kit webhook delivery accepted');
      res.status(204).end();
    });
  });
  return router;
}
