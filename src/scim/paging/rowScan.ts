import { ScimFilterTooCostly } from '../errors';
import { filterInSlices, type TimeSlices, yieldEvery } from './timeSlices';

// Scans of many rows (a filtered walk over the mirror or Kit's pages, a cached page, a big member list) run in
// slices of time with a turn of the event loop between them (timeSlices.ts): a scan of 100,000 subscribers in
// one synchronous pass made every other request, /healthz included, wait for it. A request's filtered scans
// also share one cost budget, the filter's OR'd terms times the rows it decides, so one filter cannot keep a
// core busy for seconds at a time.

export interface ScanCost {
  /** What one row costs: the filter's OR'd terms (0: rows are not filtered and cost nothing). */
  perRow: number;
  /** The request's budget of terms × rows (FILTER_SCAN_BUDGET). */
  budget: number;
}

/** One request's filtered scanning: rows kept by a predicate, in slices of time, within the request's budget. */
export class RowScan {
  private spent = 0;

  /**
   * `slices`: the request's, shared by everything its walk does between two turns of the event loop (reading a
   * page, parsing and overlaying it, deciding its rows), so a slice's time counts all of that work.
   */
  constructor(
    private readonly cost: ScanCost = { perRow: 0, budget: Number.POSITIVE_INFINITY },
    readonly slices: TimeSlices = yieldEvery(),
  ) {}

  /** Refuses at once a scan that cannot fit: `rows` are known to be ahead (a walk's total, read first). */
  expect(rows: number): void {
    if (this.spent + rows * this.cost.perRow > this.cost.budget) this.refuse();
  }

  /** The rows `keep` keeps, in order; refused before deciding any when they would pass the budget. */
  async filter<T>(rows: readonly T[], keep: (row: T) => boolean): Promise<T[]> {
    this.spent += rows.length * this.cost.perRow;
    if (this.spent > this.cost.budget) this.refuse();
    return filterInSlices(rows, keep, this.slices);
  }

  private refuse(): never {
    throw new ScimFilterTooCostly(
      `The filter's ${this.cost.perRow} OR'd terms over the rows it has to decide exceed this server's budget ` +
        `of ${this.cost.budget.toLocaleString('en')} terms × rows per request (FILTER_SCAN_BUDGET). Simplify ` +
        `the filter, or narrow it by id, userName or externalId.`,
    );
  }
}
