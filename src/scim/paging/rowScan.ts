import { setImmediate as nextTurn } from 'node:timers/promises';
import { ScimFilterTooCostly } from '../errors';

// Scans of many rows (a filtered walk over the mirror or Kit's pages, a cached page, a big member list) run in
// chunks with a turn of the event loop between them: node runs one JavaScript task at a time, and a scan of
// 100,000 subscribers in one synchronous pass made every other request, /healthz included, wait for it. A
// resolved promise is no break (the mirror's pages in memory resolve at once): only a macrotask (setImmediate)
// lets the sockets be read. A request's filtered scans also share one cost budget, the filter's OR'd terms
// times the rows it decides, so one filter cannot keep a core busy for seconds at a time.

/** Rows between two turns of the event loop: at the 256 comparisons a filter may have, ~2 ms of work. */
export const SCAN_CHUNK_ROWS = 256;

export interface ScanCost {
  /** What one row costs: the filter's OR'd terms (0: rows are not filtered and cost nothing). */
  perRow: number;
  /** The request's budget of terms × rows (FILTER_SCAN_BUDGET). */
  budget: number;
}

/** One request's filtered scanning: rows kept by a predicate, chunked, within the request's budget. */
export class RowScan {
  private spent = 0;

  constructor(private readonly cost: ScanCost = { perRow: 0, budget: Number.POSITIVE_INFINITY }) {}

  /** Refuses at once a scan that cannot fit: `rows` are known to be ahead (a walk's total, read first). */
  expect(rows: number): void {
    if (this.spent + rows * this.cost.perRow > this.cost.budget) this.refuse();
  }

  async filter<T>(rows: readonly T[], keep: (row: T) => boolean): Promise<T[]> {
    const kept: T[] = [];
    for (let i = 0; i < rows.length; i += SCAN_CHUNK_ROWS) {
      const chunk = rows.slice(i, i + SCAN_CHUNK_ROWS);
      this.charge(chunk.length);
      // Also before the first chunk: what produced the rows (a page read, parsed and overlaid) was work too.
      await nextTurn();
      for (const row of chunk) if (keep(row)) kept.push(row);
    }
    return kept;
  }

  private charge(rows: number): void {
    this.spent += rows * this.cost.perRow;
    if (this.spent > this.cost.budget) this.refuse();
  }

  private refuse(): never {
    throw new ScimFilterTooCostly(
      `The filter's ${this.cost.perRow} OR'd terms over the rows it has to decide exceed this server's budget ` +
        `of ${this.cost.budget.toLocaleString('en')} terms × rows per request (FILTER_SCAN_BUDGET). Simplify ` +
        `the filter, or narrow it by id, userName or externalId.`,
    );
  }
}
