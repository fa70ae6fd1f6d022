import fc from 'fast-check';
import { defaultSafetyMs, maxInWindow, spacingMs, sustainedShare } from '../../src/kit/spacing';

describe('spacingMs', () => {
  it('is 509 ms at Kit’s 120 per 60 s with the default 1 s margin: 98 % of the budget', () => {
    expect(defaultSafetyMs(60_000)).toBe(1000);
    expect(spacingMs({ budget: 120, windowMs: 60_000 })).toBe(509);
    expect(sustainedShare({ budget: 120, windowMs: 60_000 })).toBeGreaterThan(0.98);
  });

  it('scales to short test windows and lower, shared budgets', () => {
    expect(spacingMs({ budget: 12, windowMs: 2000 })).toBe(175);
    expect(spacingMs({ budget: 60, windowMs: 60_000 })).toBe(1017);
    expect(spacingMs({ budget: 12, windowMs: 2000, safetyMs: 0 })).toBe(167);
  });

  it('refuses a budget above Kit’s limit or below one call', () => {
    expect(() => spacingMs({ budget: 121, windowMs: 60_000 })).toThrow(RangeError);
    expect(() => spacingMs({ budget: 0, windowMs: 60_000 })).toThrow(RangeError);
    expect(() => spacingMs({ budget: 1.5, windowMs: 60_000 })).toThrow(RangeError);
  });

  it('holds in every rolling window when arrival jitter stays below the margin (the proof in spacing.ts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 500, max: 60_000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 10, maxLength: 400 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 10, maxLength: 400 }),
        (budget, windowMs, jitter, idle) => {
          const safetyMs = defaultSafetyMs(windowMs);
          const gap = spacingMs({ budget, windowMs, safetyMs });
          // Starts at least `gap` apart (sometimes more: idle time), arrivals delayed by [0, safetyMs).
          let start = 0;
          const arrivals = jitter.map((j, i) => {
            start += gap + (idle[i % idle.length] > 2500 ? idle[i % idle.length] : 0);
            return start + j * safetyMs * 0.999;
          });
          return maxInWindow(arrivals, windowMs) <= budget;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is needed: without it, one call arriving 40 ms late puts budget+1 calls in a window', () => {
    const budget = 12;
    const windowMs = 2000;
    const gap = Math.ceil(windowMs / budget);
    const arrivals = Array.from({ length: 40 }, (_, i) => i * gap + (i === 12 ? 40 : 0));
    expect(maxInWindow(arrivals, windowMs)).toBeGreaterThan(budget);
  });
});

describe('maxInWindow', () => {
  it('counts timestamps strictly less than a window apart', () => {
    expect(maxInWindow([], 1000)).toBe(0);
    expect(maxInWindow([0, 999], 1000)).toBe(2);
    expect(maxInWindow([0, 1000], 1000)).toBe(1);
    expect(maxInWindow([5, 0, 500, 1400, 1450, 1499], 1000)).toBe(4);
  });
});
