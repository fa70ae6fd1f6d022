import { setImmediate as nextTurn } from 'node:timers/promises';
import { ScimFilterTooCostly } from '../../../src/scim/errors';
import { RowScan, SCAN_CHUNK_ROWS } from '../../../src/scim/paging/rowScan';

// Chunked filtering: order is read from events (what ran before what), never from durations.

const rows = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('RowScan', () => {
  it('keeps the rows the predicate keeps, in order, whatever the chunking', async () => {
    const kept = await new RowScan().filter(rows(SCAN_CHUNK_ROWS * 3 + 7), (i) => i % 3 === 0);
    expect(kept).toEqual(rows(SCAN_CHUNK_ROWS * 3 + 7).filter((i) => i % 3 === 0));
    expect(await new RowScan().filter([], () => true)).toEqual([]);
  });

  it('lets other work run between its chunks: a task queued before the scan runs before the scan ends', async () => {
    const order: string[] = [];
    let decided = 0;
    const scanning = new RowScan()
      .filter(rows(SCAN_CHUNK_ROWS * 4), () => {
        decided++;
        return true;
      })
      .then(() => order.push('scan done'));
    // A macrotask, as a socket read is: a scan in one synchronous pass would finish before it.
    const other = nextTurn().then(() => order.push(`other task, after ${decided} rows`));
    await Promise.all([scanning, other]);
    expect(order[0]).toMatch(/^other task/);
    expect(decided).toBe(SCAN_CHUNK_ROWS * 4);
    // It ran between chunks, never inside one.
    const at = Number(/after (\d+) rows/.exec(order[0])![1]);
    expect(at % SCAN_CHUNK_ROWS).toBe(0);
    expect(at).toBeLessThan(SCAN_CHUNK_ROWS * 4);
  });

  it('refuses with 400 tooMany, naming the budget, once terms × rows pass it, before deciding the chunk', async () => {
    const scan = new RowScan({ perRow: 256, budget: 256 * SCAN_CHUNK_ROWS * 2 });
    let decided = 0;
    await scan.filter(rows(SCAN_CHUNK_ROWS * 2), () => ++decided > 0);
    expect(decided).toBe(SCAN_CHUNK_ROWS * 2);
    const refused = scan.filter(rows(1), () => ++decided > 0);
    await expect(refused).rejects.toBeInstanceOf(ScimFilterTooCostly);
    await expect(refused).rejects.toMatchObject({ status: 400, scimType: 'tooMany' });
    await expect(refused).rejects.toThrow(/256 OR'd terms .* budget of 131,072 terms × rows .*FILTER_SCAN_BUDGET/);
    expect(decided).toBe(SCAN_CHUNK_ROWS * 2);
  });

  it('refuses up front rows known to be ahead that cannot fit, and counts nothing for unfiltered rows', async () => {
    const scan = new RowScan({ perRow: 10, budget: 1000 });
    expect(() => scan.expect(100)).not.toThrow();
    expect(() => scan.expect(101)).toThrow(ScimFilterTooCostly);
    const free = new RowScan({ perRow: 0, budget: 1 });
    expect(() => free.expect(1_000_000)).not.toThrow();
    expect(await free.filter(rows(SCAN_CHUNK_ROWS + 1), () => true)).toHaveLength(SCAN_CHUNK_ROWS + 1);
  });
});
