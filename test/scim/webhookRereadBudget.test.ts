import { RereadBudget, rereadsPerWindow } from '../../src/scim/webhookRereadBudget';
import { ManualClock } from '../support/clock';

// src/scim/webhookRereadBudget.ts: the share of Kit's budget that webhook re-reads may spend, per rolling window.

describe('RereadBudget', () => {
  it('is the share of the window, rounded down, and never less than one re-read', () => {
    expect(rereadsPerWindow(120, 10)).toBe(12);
    expect(rereadsPerWindow(120, 100)).toBe(120);
    expect(rereadsPerWindow(25, 10)).toBe(2);
    expect(rereadsPerWindow(5, 1)).toBe(1);
  });

  it('grants the share within a window, refuses the rest, and grants again as the window rolls past each one', async () => {
    const clock = new ManualClock();
    const budget = new RereadBudget({ ratePerWindow: 30, sharePercent: 10, windowMs: 60_000, clock });
    expect(budget.intervalMs).toBe(20_000);
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([true, true, true, false]);
    await clock.advance(30_000);
    expect(budget.take()).toBe(false);
    await clock.advance(29_999);
    expect(budget.take()).toBe(false);
    await clock.advance(1); // the first three were granted 60 s ago
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([true, true, true, false]);
  });
});
