import type { Clock } from '../../platform/clock';
import type { RedisLink } from '../../platform/redisLink';

// Whether Kit's webhooks are still arriving. Kit sends no heartbeat, but the server's own state changes (a
// create makes an active subscriber, a deactivation unsubscribes one) come back as deliveries within seconds.
// When one of them has not, and no delivery at all has been heard since, for `graceMs`, the webhooks are silent
// (unregistered in the Kit app, the receiver unreachable, Kit not sending): the mirror can no longer know of
// changes made in Kit, so it stops answering (every read goes to Kit: exact, at today's cost) until a delivery
// is heard again and a walk has caught up with what was missed.
//
// With Redis, "heard" is shared: the delivery for a write made through one replica may reach another.

export interface WebhookWatchOptions {
  clock: Clock;
  graceMs: number;
  link?: RedisLink;
  /** Redis key holding the time of the latest delivery heard by any replica. */
  key: string;
  /**
   * Deliveries are heard again after a silence: what Kit changed meanwhile was never delivered. Resolves once
   * the mirror is marked for a new walk (until then the watch still reports silence).
   */
  onRecovered: () => Promise<void>;
}

export class WebhookWatch {
  /** The oldest own state change whose delivery has not been heard yet. */
  private pendingSince?: number;
  private lastHeard = 0;
  private wasSilent = false;

  constructor(private readonly o: WebhookWatchOptions) {}

  /** The server made a state change Kit will deliver a webhook for. */
  expect(): void {
    this.pendingSince ??= this.o.clock.now();
  }

  /** A delivery arrived (on this replica). */
  async heard(): Promise<void> {
    const now = this.o.clock.now();
    this.lastHeard = Math.max(this.lastHeard, now);
    await this.o.link?.run((c) => c.set(this.o.key, String(now))).catch(() => undefined);
    if (this.pendingSince !== undefined && this.pendingSince <= now) this.pendingSince = undefined;
    await this.recover();
  }

  /** Whether deliveries are overdue. */
  async silent(): Promise<boolean> {
    if (this.pendingSince === undefined) return this.wasSilent;
    let heard = this.lastHeard;
    if (this.o.link) {
      const shared = await this.o.link.run((c) => c.get(this.o.key)).catch(() => null);
      if (shared !== null) heard = Math.max(heard, Number(shared));
    }
    if (heard >= this.pendingSince) {
      this.pendingSince = undefined;
      await this.recover();
      return this.wasSilent;
    }
    if (this.o.clock.now() - this.pendingSince > this.o.graceMs) this.wasSilent = true;
    return this.wasSilent;
  }

  private async recover(): Promise<void> {
    if (!this.wasSilent) return;
    await this.o.onRecovered();
    this.wasSilent = false;
  }
}
