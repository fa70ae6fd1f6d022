import type { CallPriority } from './types';

/** Retried calls (already admitted once, e.g. after a 429) go ahead of everything else. */
export type LimiterPriority = 'retry' | CallPriority;
export const PRIORITIES: readonly LimiterPriority[] = ['retry', 'interactive', 'background', 'webhook'];

/**
 * Each lane's priority in the scheduler (Bottleneck: 0 is served first, 9 last, FIFO within one). The lanes sit
 * two apart so that a call sent back after it had reached the front (a 429 arrived while it held a slot) goes
 * one ahead of its lane's new calls, and still behind every higher lane.
 */
const SCHEDULER_PRIORITY: Record<LimiterPriority, number> = { retry: 1, interactive: 3, background: 5, webhook: 7 };

export function schedulerPriority(lane: LimiterPriority, returning = false): number {
  return SCHEDULER_PRIORITY[lane] - (returning ? 1 : 0);
}

/**
 * How many calls wait in each lane. The scheduler learns of a call a few event-loop turns after it was queued,
 * so the fail-fast estimate and the queue-depth figures count here, at once.
 */
export class LaneCounts {
  private readonly counts = new Map<LimiterPriority, number>(PRIORITIES.map((p) => [p, 0]));

  add(priority: LimiterPriority, n = 1): void {
    this.counts.set(priority, this.counts.get(priority)! + n);
  }

  /** How many calls would be served before a new one of this priority. */
  ahead(priority: LimiterPriority): number {
    let n = 0;
    for (const p of PRIORITIES) {
      n += this.counts.get(p)!;
      if (p === priority) break;
    }
    return n;
  }

  sizeOf(priority: LimiterPriority): number {
    return this.counts.get(priority)!;
  }

  get size(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  clear(): void {
    for (const p of PRIORITIES) this.counts.set(p, 0);
  }
}
