import { setImmediate as nextTurn } from 'node:timers/promises';
import { filterInSlices, mapInSlices, yieldEvery } from '../../../src/scim/paging/timeSlices';

// Slices of time with an injected clock: what ran between the slices is read from events, never from durations.

describe('time slices', () => {
  it('a slice is spent once its time has passed on the clock, and next() starts a fresh one', async () => {
    let t = 100;
    const slices = yieldEvery(5, () => t);
    expect(slices.spent()).toBe(false);
    t = 104.9;
    expect(slices.spent()).toBe(false);
    t = 105;
    expect(slices.spent()).toBe(true);
    await slices.next();
    expect(slices.spent()).toBe(false);
    t = 110;
    expect(slices.spent()).toBe(true);
  });

  it('pace() lets a macrotask run only when the slice is spent', async () => {
    let t = 0;
    const slices = yieldEvery(5, () => t);
    const order: string[] = [];
    const other = nextTurn().then(() => order.push('other task'));
    await slices.pace();
    order.push('paced within the slice');
    t = 5;
    await slices.pace();
    order.push('paced after the slice');
    await other;
    expect(order).toEqual(['paced within the slice', 'other task', 'paced after the slice']);
  });

  it('maps and filters in order, letting a queued macrotask run between slices (a clock moving 1 ms a read)', async () => {
    let t = 0;
    const clock = () => t++;
    const items = Array.from({ length: 50 }, (_, i) => i);
    let mapped = 0;
    const seen: number[] = [];
    const other = nextTurn().then(() => seen.push(mapped));
    const out = await mapInSlices(
      items,
      (i) => {
        mapped++;
        return i * 2;
      },
      yieldEvery(5, clock),
    );
    await other;
    expect(out).toEqual(items.map((i) => i * 2));
    expect(seen[0]).toBeGreaterThan(0);
    expect(seen[0]).toBeLessThan(50);
    expect(await filterInSlices(items, (i) => i % 7 === 0, yieldEvery(5, clock))).toEqual([
      0, 7, 14, 21, 28, 35, 42, 49,
    ]);
  });
});
