import type { Clock } from '../platform/clock';

// How many Kit re-reads webhook deliveries may start in any rolling rate window. Kit does not sign its
// deliveries, so their number is whatever the sender of the receiver's URL chooses; without a budget of their
// own, a flood of forged deliveries for distinct subscribers would queue one Kit read each and spend the whole
// key's budget on them. A share of the window keeps the rest for the IdPs and the mirror's walks.

export interface RereadBudgetOptions {
  /** Kit calls allowed per window for the whole key (KIT_RATE_LIMIT_PER_MINUTE). */
  ratePerWindow: number;
  /** The percentage of it re-reads may spend (WEBHOOK_REREAD_SHARE). */
  sharePercent: number;
  windowMs: number;
  clock: Clock;
}

/** Re-reads allowed per window: the share, rounded down, but at least one (else genuine deliveries never count). */
export function rereadsPerWindow(ratePerWindow: number, sharePercent: number): number {
  return Math.max(1, Math.floor((ratePerWindow * sharePercent) / 100));
}

export class RereadBudget {
  readonly perWindow: number;
  /** The window's length over its re-reads: how long one subscriber waits between two of them (its hold). */
  readonly intervalMs: number;
  /** Start times of the re-reads granted within the last window, oldest first (at most perWindow). */
  private readonly granted: number[] = [];

  constructor(private readonly o: RereadBudgetOptions) {
    this.perWindow = rereadsPerWindow(o.ratePerWindow, o.sharePercent);
    this.intervalMs = Math.ceil(o.windowMs / this.perWindow);
  }

  /** Grants one re-read now, or refuses when the window's share is spent. */
  take(): boolean {
    const now = this.o.clock.now();
    while (this.granted.length > 0 && now - this.granted[0] >= this.o.windowMs) this.granted.shift();
    if (this.granted.length >= this.perWindow) return false;
    this.granted.push(now);
    return true;
  }
}
