import { clientKey, FailureThrottle } from '../../src/platform/failureThrottle';
import { ManualClock } from '../support/clock';

// The throttle alone, driven by an injected clock: every assertion is about counts and order (which
// attempts are admitted), never about how long anything took.

function testClock(start = 1_000_000): ManualClock {
  return new ManualClock(start);
}

const IP = '198.51.100.7';

/** Fails one admitted attempt; returns whether it was admitted. */
function guess(t: FailureThrottle, ip = IP): boolean {
  const a = t.admit(ip);
  if (a.admitted) a.attempt.failed();
  return a.admitted;
}

describe('FailureThrottle', () => {
  it('admits five failures, then one check per slot, the slots spaced 250 ms doubling up to 5 s', async () => {
    const clock = testClock();
    const t = new FailureThrottle({ clock });
    for (let i = 0; i < 5; i++) expect(guess(t)).toBe(true);
    const gaps = [250, 500, 1000, 2000, 4000, 5000, 5000];
    expect(guess(t)).toBe(true); // the first slot is open at once
    for (const gap of gaps) {
      await clock.advance(gap - 1);
      expect(guess(t)).toBe(false);
      await clock.advance(1);
      expect(guess(t)).toBe(true);
    }
  });

  it('tells a refused client when its next slot opens', async () => {
    const clock = testClock();
    const t = new FailureThrottle({ clock });
    for (let i = 0; i < 6; i++) guess(t);
    await clock.advance(100);
    expect(t.admit(IP)).toEqual({ admitted: false, retryAfterMs: 150 });
  });

  it('forgets failures older than the 60 s window', async () => {
    const clock = testClock();
    const t = new FailureThrottle({ clock });
    for (let i = 0; i < 6; i++) guess(t);
    expect(guess(t)).toBe(false);
    await clock.advance(60_000);
    for (let i = 0; i < 5; i++) expect(guess(t)).toBe(true);
  });

  it('never clears failures on a success, and keeps clients apart', async () => {
    const clock = testClock();
    const t = new FailureThrottle({ clock });
    for (let i = 0; i < 6; i++) guess(t);
    // Another client behind its own address is untouched.
    expect(guess(t, '203.0.113.9')).toBe(true);
    await clock.advance(250);
    const ok = t.admit(IP);
    expect(ok.admitted).toBe(true);
    if (ok.admitted) ok.attempt.settled();
    // The success took the slot and cleared nothing.
    expect(guess(t)).toBe(false);
  });

  it('reserves concurrent checks synchronously, before any of them has an outcome', () => {
    const t = new FailureThrottle({ clock: testClock() });
    guess(t);
    const inFlight = Array.from({ length: 10 }, () => t.admit(IP));
    // 1 failure + 4 in flight reach the threshold of 5; the fifth in flight took the one open slot.
    expect(inFlight.map((a) => a.admitted)).toEqual([true, true, true, true, true, false, false, false, false, false]);
  });

  it('lets a client with no failures have up to maxConcurrentChecks checks in flight', () => {
    const t = new FailureThrottle({ clock: testClock(), maxConcurrentChecks: 3 });
    const first = [t.admit(IP), t.admit(IP), t.admit(IP)];
    expect(first.every((a) => a.admitted)).toBe(true);
    // Good credentials settle: the room is back.
    for (const a of first) if (a.admitted) a.attempt.settled();
    expect([t.admit(IP), t.admit(IP), t.admit(IP)].every((a) => a.admitted)).toBe(true);
    expect(t.trackedClients).toBe(1);
  });

  it('settles an attempt once, whatever its caller does twice', () => {
    const t = new FailureThrottle({ clock: testClock(), threshold: 1 });
    const a = t.admit(IP);
    if (!a.admitted) throw new Error('expected admission');
    a.attempt.failed();
    a.attempt.failed();
    a.attempt.settled();
    expect(guess(t)).toBe(true); // the slot: one failure recorded, not two
    expect(guess(t)).toBe(false);
  });

  it('tracks at most maxTrackedClients, evicting the least recently seen', () => {
    const t = new FailureThrottle({ clock: testClock(), maxTrackedClients: 3, threshold: 1 });
    guess(t, '10.0.0.1');
    for (const ip of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) guess(t, ip);
    expect(t.trackedClients).toBe(3);
    // 10.0.0.1 was evicted, so its next failure is free again; 10.0.0.4 gets only its slot.
    expect(guess(t, '10.0.0.1')).toBe(true);
    expect(guess(t, '10.0.0.4')).toBe(true);
    expect(guess(t, '10.0.0.4')).toBe(false);
  });

  it('keys IPv6 clients by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(clientKey('2001:db8:1:2::1')).toBe(clientKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    const t = new FailureThrottle({ clock: testClock(), threshold: 1 });
    guess(t, '2001:db8:1:2::1');
    guess(t, '2001:db8:1:2::99');
    expect(guess(t, '2001:db8:1:2::abcd')).toBe(false);
  });

  describe('a credential already checked (a static token)', () => {
    it('is never refused when valid, however far over its budget the address is', () => {
      const t = new FailureThrottle({ clock: testClock() });
      for (let i = 0; i < 20; i++) guess(t);
      expect(guess(t)).toBe(false);
      for (let i = 0; i < 10; i++) expect(t.checked(IP, true)).toEqual({ refused: false });
      // Nothing was cleared: a guess is still refused.
      expect(guess(t)).toBe(false);
    });

    it('takes the open spacing slot when valid, so a success never buys a guess', async () => {
      const clock = testClock();
      const t = new FailureThrottle({ clock });
      for (let i = 0; i < 5; i++) guess(t);
      expect(t.checked(IP, true)).toEqual({ refused: false });
      expect(guess(t)).toBe(false);
      await clock.advance(250);
      expect(guess(t)).toBe(true);
    });

    it('counts an invalid one as a failure, and refuses it over the budget with the wait', async () => {
      const clock = testClock();
      const t = new FailureThrottle({ clock });
      for (let i = 0; i < 5; i++) expect(t.checked(IP, false)).toEqual({ refused: false });
      expect(t.checked(IP, false)).toEqual({ refused: false }); // the open slot
      await clock.advance(100);
      expect(t.checked(IP, false)).toEqual({ refused: true, retryAfterMs: 150 });
      // Failures age out with time only.
      await clock.advance(60_000);
      expect(t.checked(IP, false)).toEqual({ refused: false });
    });
  });

  describe('a JWT vouched for by its unverified claims', () => {
    it('is admitted as any check while the address is within its budget', () => {
      const t = new FailureThrottle({ clock: testClock() });
      const a = t.admitVouched(IP);
      expect(a).toMatchObject({ admitted: true });
      expect(a.admitted && a.overBudget).toBeUndefined();
    });

    it('over the budget, has at most maxVouchedChecks verifications in flight, each marked over budget', async () => {
      const clock = testClock();
      const t = new FailureThrottle({ clock, maxVouchedChecks: 2 });
      for (let i = 0; i < 6; i++) guess(t);
      await clock.advance(50);
      const inFlight = Array.from({ length: 4 }, () => t.admitVouched(IP));
      expect(inFlight.map((a) => a.admitted)).toEqual([true, true, false, false]);
      for (const a of inFlight.slice(0, 2)) expect(a.admitted && a.overBudget).toEqual({ retryAfterMs: 200 });
      // A verified one makes room again; a plain guess is still refused.
      const [good] = inFlight;
      if (good.admitted) good.attempt.settled();
      expect(guess(t)).toBe(false);
      expect(t.admitVouched(IP).admitted).toBe(true);
    });

    it('counts a failed verification over the budget as a failure, a verified one not', async () => {
      const clock = testClock();
      const t = new FailureThrottle({ clock });
      const forger = IP;
      const idp = '203.0.113.9';
      for (const ip of [forger, idp]) for (let i = 0; i < 6; i++) guess(t, ip);
      for (let i = 0; i < 3; i++) {
        const forged = t.admitVouched(forger);
        const signed = t.admitVouched(idp);
        if (!forged.admitted || !signed.admitted) throw new Error('expected admission');
        forged.attempt.failed();
        signed.attempt.settled();
      }
      // The next slots are spaced by the failures: 9 for the forger, still 6 for the IdP's address.
      await clock.advance(250);
      expect(guess(t, forger)).toBe(true);
      expect(guess(t, idp)).toBe(true);
      await clock.advance(500);
      expect(guess(t, idp)).toBe(true);
      expect(guess(t, forger)).toBe(false);
    });
  });

  describe('with Jest modern fake timers driving the system clock', () => {
    beforeEach(() => jest.useFakeTimers({ now: new Date('2030-01-15T12:00:00Z') }));
    afterEach(() => jest.useRealTimers());

    it('sweeps quiet clients once their failures have aged out, and stops sweeping on close', () => {
      const t = new FailureThrottle({ threshold: 1 });
      guess(t, '10.0.0.1');
      guess(t, '10.0.0.2');
      expect(t.trackedClients).toBe(2);
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(60_000);
      expect(t.trackedClients).toBe(0);
      t.close();
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
