import { setImmediate as nextTurn } from 'node:timers/promises';
import { ScimFilterTooCostly } from '../../../src/scim/errors';
import { RowScan } from '../../../src/scim/paging/rowScan';
import { yieldEvery } from '../../../src/scim/paging/timeSlices';

// Filtering in slices of time: order is read from events (what ran before what), never from durations; time
// is a counter that moves 1 ms each time it is read.

const rows = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A clock that moves 1 ms each time it is read. */
function ticking(): () => number {
  let t = 0;
  return () => t++;
}

describe('RowScan', () => {
  it('keeps the rows the predicate keeps, in order, whatever the slicing', async () => {
    const slow = new RowScan(undefined, yieldEvery(5, ticking()));
    expect(await slow.filter(rows(1000), (i) => i % 3 === 0)).toEqual(rows(1000).filter((i) => i % 3 === 0));
    expect(await new RowScan().filter(rows(1000), (i) => i % 3 === 0)).toEqual(rows(1000).filter((i) => i % 3 === 0));
    expect(await new RowScan().filter([], () => true)).toEqual([]);
  });

  it('lets other work run once a slice has had its time: a task queued before the scan runs before it ends', async () => {
    const order: string[] = [];
    let decided = 0;
    // 5 ms slices on a clock that moves 1 ms a row: a turn of the event loop every few rows.
    const scanning = new RowScan(undefined, yieldEvery(5, ticking()))
      .filter(rows(100), () => {
        decided++;
        return true;
      })
      .then(() => order.push('scan done'));
    // A macrotask, as a socket read is: a scan in one synchronous pass would finish before it.
    const other = nextTurn().then(() => order.push(`other task, after ${decided} rows`));
    await Promise.all([scanning, other]);
    expect(order[0]).toMatch(/^other task/);
    expect(decided).toBe(100);
    const at = Number(/after (\d+) rows/.exec(order[0])![1]);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(10);
  });

  it('does not yield while its slice lasts: a scan on a clock that stands still runs in one pass', async () => {
    const order: string[] = [];
    const scanning = new RowScan(
      undefined,
      yieldEvery(5, () => 0),
    )
      .filter(rows(10_000), () => true)
      .then(() => order.push('scan done'));
    const other = nextTurn().then(() => order.push('other task'));
    await Promise.all([scanning, other]);
    expect(order).toEqual(['scan done', 'other task']);
  });

  it('refuses with 400 tooMany, naming the budget, once terms × rows pass it, before deciding any row', async () => {
    const scan = new RowScan({ perRow: 256, budget: 256 * 512 });
    let decided = 0;
    await scan.filter(rows(512), () => ++decided > 0);
    expect(decided).toBe(512);
    const refused = scan.filter(rows(1), () => ++decided > 0);
    await expect(refused).rejects.toBeInstanceOf(ScimFilterTooCostly);
    await expect(refused).rejects.toMatchObject({ status: 400, scimType: 'tooMany' });
    await expect(refused).rejects.toThrow(/256 OR'd terms .* budget of 131,072 terms × rows .*FILTER_SCAN_BUDGET/);
    expect(decided).toBe(512);
    // A page that would pass the budget part way is refused whole, before its first row.
    const partway = new RowScan({ perRow: 10, budget: 1000 });
    await expect(partway.filter(rows(101), () => ++decided > 0)).rejects.toBeInstanceOf(ScimFilterTooCostly);
    expect(decided).toBe(512);
  });

  it('refuses up front rows known to be ahead that cannot fit, and counts nothing for unfiltered rows', async () => {
    const scan = new RowScan({ perRow: 10, budget: 1000 });
    expect(() => scan.expect(100)).not.toThrow();
    expect(() => scan.expect(101)).toThrow(ScimFilterTooCostly);
    const free = new RowScan({ perRow: 0, budget: 1 });
    expect(() => free.expect(1_000_000)).not.toThrow();
    expect(await free.filter(rows(1001), () => true)).toHaveLength(1001);
  });
});
