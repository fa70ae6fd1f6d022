import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../platform/clock';
import type { Config } from '../config/environment';
import type { KitApi } from '../kit/api';
import type { ScimServices } from '../scim/services';
import { type DeliveryDropReason, type DeliveryOutcome, WebhookHints } from '../scim/webhookHints';
import { RereadBudget } from '../scim/webhookRereadBudget';
import { registerWebhooks } from '../scim/webhookRegistration';

// What the server learns from Kit beside the IdP's requests, started once the SCIM services serve:
// the subscriber mirror's walks, and Kit's webhooks (registered in the background, retried every minute until
// Kit accepts them) whose deliveries WebhookHints turns into journal entries and mirror updates.

export interface KitChangesDeps {
  kit: KitApi;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Time for journal entries (the service's `now` when tests inject one). */
  now(): number;
  /** Each handled delivery: did it need a Kit read? (metrics) */
  handled(outcome: DeliveryOutcome): void;
  /** Each dropped delivery, and why (metrics, /status). */
  dropped(reason: DeliveryDropReason): void;
}

export class KitChanges {
  /** Kit's webhook deliveries, once the services exist; the receiver route asks for it per delivery. */
  hints?: WebhookHints;
  private services?: ScimServices;
  private retryTimer?: TimerHandle;
  private stopped = false;

  constructor(private readonly deps: KitChangesDeps) {}

  start(services: ScimServices): void {
    const tracking = services.tracking;
    if (this.stopped) return;
    this.services = services;
    // The mirror's first walk (background priority) and its re-walks every MIRROR_REFRESH_MINUTES.
    tracking.mirror?.start();
    const { logger, config } = this.deps;
    const budget = new RereadBudget({
      ratePerWindow: config.kit.ratePerMinute,
      sharePercent: config.changes.webhookRereadSharePercent,
      windowMs: config.kit.rateWindowMs,
      clock: this.deps.clock,
    });
    this.hints = new WebhookHints({
      kit: this.deps.kit,
      journal: tracking.journal,
      mirror: tracking.mirror,
      snapshot: tracking.snapshot,
      budget,
      holdMs: budget.intervalMs,
      clock: this.deps.clock,
      changed: async () => {
        await services.pageStore.bumpGeneration('users');
      },
      now: () => this.deps.now(),
      onError: (err) => logger.warn({ err: { message: err.message } }, 'Kit webhook delivery not applied'),
      heard: async () => tracking.watch?.heard(),
      handled: (outcome) => this.deps.handled(outcome),
      dropped: (reason) => this.deps.dropped(reason),
      stampKey: tracking.stampKey,
    });
    this.register();
  }

  stop(): void {
    this.stopped = true;
    this.services?.tracking.mirror?.stop();
    this.services?.tracking.stop?.();
    this.hints?.stop();
    this.deps.clock.clearTimeout(this.retryTimer);
  }

  private register(): void {
    const { config, logger, clock } = this.deps;
    const base = config.publicUrls.baseUrl;
    if (!config.changes.webhooks || !config.changes.webhookSecret || !base || this.stopped) return;
    const webhooks = this.deps.kit.webhooks;
    if (!webhooks) {
      logger.warn('Kit webhooks are not used with this Kit API version; the mirror learns of Kit changes by walks');
      return;
    }
    registerWebhooks(webhooks, base, config.changes.webhookSecret).then(
      (r) => logger.info(r, 'Kit webhooks registered'),
      (err) => {
        logger.warn({ err: { message: (err as Error).message } }, 'Kit webhooks not registered; retrying in 60 s');
        if (!this.stopped) this.retryTimer = clock.setTimeout(() => this.register(), 60_000, { background: true });
      },
    );
  }
}
