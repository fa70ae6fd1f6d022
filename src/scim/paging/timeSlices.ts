import { setImmediate as nextTurn } from 'node:timers/promises';

// Loops over client-sized or account-sized data (a filtered scan, a mirror page parsed and overlaid, a list
// answer rendered, a group's members) run in slices of time with a turn of the event loop between them: node
// runs one JavaScript task at a time, and every other request, /healthz included, waits while one runs. Slices
// are cut by time, not by row count, because what a row costs varies by orders of magnitude (a 256-term filter,
// a rendered user, a parsed record) and with the machine's load. A resolved promise is no break (the mirror's
// pages in memory resolve at once): only a macrotask (setImmediate) lets the sockets be read.

/** The work one slice may do before it lets other tasks run: a quarter of the 20 ms p99 loop-delay target. */
export const SLICE_MS = 5;

/** One piece of work's slices: checked inside its loops, yielding once a slice has had its time. */
export class TimeSlices {
  private sliceStart: number;

  constructor(
    private readonly sliceMs = SLICE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sliceStart = now();
  }

  /** Whether the slice running now has had its time: the loop should `await next()` before going on. */
  spent(): boolean {
    return this.now() - this.sliceStart >= this.sliceMs;
  }

  /** A turn of the event loop, then a fresh slice. */
  async next(): Promise<void> {
    await nextTurn();
    this.sliceStart = this.now();
  }

  /** A turn of the event loop when the slice is spent; nothing otherwise. */
  async pace(): Promise<void> {
    if (this.spent()) await this.next();
  }
}

/** Slices of `ms` of work each (SLICE_MS unless told), timed by `now` (performance.now unless told). */
export function yieldEvery(ms = SLICE_MS, now?: () => number): TimeSlices {
  return new TimeSlices(ms, now);
}

/** Visits every item in order, in slices of time. */
async function eachInSlices<T>(
  items: readonly T[],
  visit: (item: T) => void,
  slices: TimeSlices = yieldEvery(),
): Promise<void> {
  for (const item of items) {
    if (slices.spent()) await slices.next();
    visit(item);
  }
}

/** `items.map(map)`, in slices of time. */
export async function mapInSlices<T, U>(
  items: readonly T[],
  map: (item: T) => U,
  slices: TimeSlices = yieldEvery(),
): Promise<U[]> {
  const out: U[] = [];
  await eachInSlices(items, (item) => out.push(map(item)), slices);
  return out;
}

/** `items.filter(keep)`, in slices of time. */
export async function filterInSlices<T>(
  items: readonly T[],
  keep: (item: T) => boolean,
  slices: TimeSlices = yieldEvery(),
): Promise<T[]> {
  const kept: T[] = [];
  await eachInSlices(
    items,
    (item) => {
      if (keep(item)) kept.push(item);
    },
    slices,
  );
  return kept;
}
