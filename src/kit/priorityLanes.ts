import type { CallPriority } from './types';

/** Retried calls (already admitted once, e.g. after a 429) go ahead of everything else. */
export type LimiterPriority = 'retry' | CallPriority;
export const PRIORITIES: readonly LimiterPriority[] = ['retry', 'interactive', 'background', 'webhook'];

/**
 * FIFO lanes served strictly in priority order. Items can be withdrawn from the middle: a call whose caller
 * gave up leaves the queue without consuming a slot of Kit's budget.
 */
export class PriorityLanes<T> {
  private readonly lanes = new Map<LimiterPriority, T[]>(PRIORITIES.map((p) => [p, []]));

  push(priority: LimiterPriority, item: T): void {
    this.lanes.get(priority)!.push(item);
  }

  /** Back to the head of its lane: it had already reached the front once. */
  unshift(priority: LimiterPriority, item: T): void {
    this.lanes.get(priority)!.unshift(item);
  }

  shift(): T | undefined {
    for (const p of PRIORITIES) {
      const lane = this.lanes.get(p)!;
      if (lane.length > 0) return lane.shift();
    }
    return undefined;
  }

  remove(priority: LimiterPriority, item: T): boolean {
    const lane = this.lanes.get(priority)!;
    const i = lane.indexOf(item);
    if (i < 0) return false;
    lane.splice(i, 1);
    return true;
  }

  /** How many items would be served before a new one of this priority. */
  ahead(priority: LimiterPriority): number {
    let n = 0;
    for (const p of PRIORITIES) {
      n += this.lanes.get(p)!.length;
      if (p === priority) break;
    }
    return n;
  }

  sizeOf(priority: LimiterPriority): number {
    return this.lanes.get(priority)!.length;
  }

  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.length;
    return n;
  }

  drain(): T[] {
    const all: T[] = [];
    for (const p of PRIORITIES) all.push(...this.lanes.get(p)!.splice(0));
    return all;
  }
}
