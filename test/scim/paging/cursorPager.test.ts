import { ScimFilterTooCostly } from '../../../src/scim/errors';
import { CursorPager, type WalkSource } from '../../../src/scim/paging/cursorPager';
import { MemoryPageStore } from '../../../src/scim/paging/pageStore';

// An in-memory stand-in for Kit's cursor pages: this tests the pager's bookkeeping alone. The same pager is
// exercised against the Kit sandbox over HTTP in test/http/users.reconcile.test.ts.
function source(n: number, pageSize: number, hidden: (i: number) => boolean = () => false) {
  const calls: Array<{ after: string | null; total: boolean }> = [];
  const rows = Array.from({ length: n }, (_, i) => i + 1);
  const src: WalkSource<number> = {
    fingerprint: `n${n}`,
    fetch: async (after, includeTotalCount) => {
      calls.push({ after, total: includeTotalCount });
      const start = after === null ? 0 : Number(after);
      const items = rows.slice(start, start + pageSize);
      const next = start + pageSize < n ? String(start + pageSize) : null;
      return { items, next, totalCount: includeTotalCount ? n : undefined };
    },
    visible: (i) => !hidden(i),
    totalFromKit: async (total) => total - rows.filter(hidden).length,
  };
  return { src, calls };
}

describe('CursorPager', () => {
  it('serves a whole page-by-page walk with one fetch per Kit page, every row exactly once', async () => {
    const pager = new CursorPager(new MemoryPageStore(100), { ttlSeconds: 60 });
    const { src, calls } = source(2550, 1000, (i) => i % 10 === 0);
    const seen: number[] = [];
    let total = -1;
    for (let start = 1; ; start += 100) {
      const page = await pager.window(src, start, 100);
      total = page.totalResults;
      seen.push(...page.items);
      if (start + 100 > total) break;
    }
    expect(total).toBe(2550 - 255);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen.some((i) => i % 10 === 0)).toBe(false);
    expect(calls).toHaveLength(3);
    expect(calls[0].total).toBe(true);
  });

  it('refetches only the evicted Kit page from its remembered cursor', async () => {
    const store = new MemoryPageStore(2);
    const pager = new CursorPager(store, { ttlSeconds: 60 });
    const { src, calls } = source(3000, 1000);
    await pager.window(src, 2901, 100);
    expect(calls).toHaveLength(3);
    const again = await pager.window(src, 1, 10);
    expect(again.items).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(calls).toHaveLength(4);
    expect(calls[3].after).toBeNull();
  });

  it('starts a new walk after a write bumps the generation', async () => {
    const store = new MemoryPageStore(100);
    const pager = new CursorPager(store, { ttlSeconds: 60 });
    const { src, calls } = source(10, 1000);
    await pager.window(src, 1, 5);
    await pager.window(src, 6, 5);
    expect(calls).toHaveLength(1);
    await store.bumpGeneration('users');
    await pager.window(src, 1, 5);
    expect(calls).toHaveLength(2);
  });

  it('walks to the end for an exact total when Kit cannot count the visible rows', async () => {
    const pager = new CursorPager(new MemoryPageStore(100), { ttlSeconds: 60 });
    const { src, calls } = source(2500, 1000, (i) => i > 2000);
    const page = await pager.window({ ...src, totalFromKit: undefined }, 1, 5);
    expect(page.totalResults).toBe(2000);
    expect(calls).toHaveLength(3);
  });

  it('refuses a filtered walk whose rows × terms cannot fit the scan budget before deciding any row', async () => {
    const pager = new CursorPager(new MemoryPageStore(100), { ttlSeconds: 60, scanBudget: 10_000 });
    let decided = 0;
    const { src, calls } = source(2000, 1000);
    const costly: WalkSource<number> = {
      ...src,
      rowCost: 8,
      visible: () => ++decided > 0,
      totalFromKit: undefined,
    };
    await expect(pager.window(costly, 1, 10)).rejects.toBeInstanceOf(ScimFilterTooCostly);
    expect(decided).toBe(0);
    expect(calls).toHaveLength(1);
    // Within budget (5 terms × 2,000 rows), the same walk is answered.
    const page = await pager.window({ ...costly, fingerprint: 'cheaper', rowCost: 5 }, 1, 10);
    expect(page.totalResults).toBe(2000);
  });
});
