import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../platform/clock';
import type { Readiness } from '../platform/readiness';
import type { KitApi } from '../kit/api';
import { KitAuthError } from '../kit/errors';
import type { CallOptions } from '../kit/types';
import { ScimServiceUnavailable } from './errors';
import { SubscriberFieldMap } from './fieldMap';
import { DELETED_USERS_TAG } from './groups/tagCatalog';
import type { ScimServices } from './services';

// The start-up checks against Kit, their retries and what /readyz says about them: the credentials
// (GET /v4/account), the reserved custom fields and the tombstone tag. A server that cannot reach Kit still
// starts, reports not-ready, and keeps trying in the background.

export interface BootstrapSettings {
  /** Pause between two failed start-up attempts. */
  retryMs: number;
  /** Retry-After of the 503 answered to SCIM requests before the checks passed. */
  notReadyRetryAfterSeconds: number;
}

export interface BootstrapperDeps {
  kit: KitApi;
  readiness: Readiness;
  logger: Logger;
  clock: Clock;
  settings: BootstrapSettings;
  /** Every custom field label the mapping and the server's bookkeeping need (SubscriberFieldMap.labels). */
  fieldLabels?: readonly string[];
  /** Builds the SCIM services once the reserved fields exist (no Kit call). */
  build(fieldKeys: Map<string, string>): ScimServices;
  /** Starts what runs beside the services once they serve (the mirror's walks, Kit webhooks). */
  started?(services: ScimServices): void;
}

const BACKGROUND: CallOptions = { priority: 'background' };

export class Bootstrapper {
  private services?: ScimServices;
  private running?: Promise<void>;
  private retryTimer?: TimerHandle;
  private stopped = false;

  constructor(private readonly deps: BootstrapperDeps) {
    deps.readiness.set('kit', false, 'not checked yet');
    deps.readiness.set('customFields', false, 'not bootstrapped yet');
  }

  /** The SCIM services, or a 503 (starting the checks again) while the start-up checks have not passed. */
  current(): ScimServices {
    if (!this.services) {
      if (!this.stopped) void this.bootstrap();
      throw new ScimServiceUnavailable(
        'The server has not finished its start-up checks against Kit (credentials, reserved custom fields); see /readyz.',
        this.deps.settings.notReadyRetryAfterSeconds,
      );
    }
    return this.services;
  }

  bootstrap(): Promise<void> {
    if (this.services || this.stopped) return Promise.resolve();
    this.running ??= this.attempt().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No further attempts (shutdown). */
  stop(): void {
    this.stopped = true;
    this.deps.clock.clearTimeout(this.retryTimer);
  }

  private async attempt(): Promise<void> {
    const { kit, readiness, logger } = this.deps;
    try {
      const account = await kit.account(BACKGROUND);
      readiness.set('kit', true);
      logger.info({ account: account.account?.name }, 'Kit credentials accepted');
      const keys = await kit.customFields.ensure(this.deps.fieldLabels ?? SubscriberFieldMap.labels(), BACKGROUND);
      const services = this.deps.build(keys);
      services.membership.useDeletedTag(await services.catalog.ensure(DELETED_USERS_TAG, BACKGROUND));
      const provisioning = kit.capabilities.provisioningTag;
      if (provisioning) await services.catalog.ensure(provisioning, BACKGROUND);
      this.services = services;
      // Only now, with the reserved tags in place and current() serving: a load balancer that sees 200 on
      // /readyz sends the IdP's first request at once, and it must not meet the 503 of a server still starting.
      readiness.set('customFields', true);
      // Warm the membership index so User.groups on filtered lookups costs no Kit call; background priority.
      services.membership
        .membershipIndex(BACKGROUND)
        .catch((err) => logger.warn({ err: { message: err.message } }, 'membership index'));
      this.deps.started?.(services);
      logger.info('start-up checks passed; serving SCIM');
    } catch (err) {
      const rejected = err instanceof KitAuthError;
      readiness.set(
        'kit',
        !rejected && readiness.report().checks.kit?.ok === true,
        rejected ? 'Kit rejected the credentials' : (err as Error).message,
      );
      logger.error(
        { err: { name: (err as Error).name, message: (err as Error).message } },
        'start-up checks failed; retrying',
      );
      this.deps.clock.clearTimeout(this.retryTimer);
      if (this.stopped) return;
      this.retryTimer = this.deps.clock.setTimeout(() => void this.bootstrap(), this.deps.settings.retryMs, {
        background: true,
      });
    }
  }
}
