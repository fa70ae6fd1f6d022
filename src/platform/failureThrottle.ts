import { LRUCache } from 'lru-cache';
import { type Clock, systemClock, type TimerHandle } from './clock';

// Slows down credential guessing from one client address, and never the right caller at that address. Three
// habits shape it:
// - attackers guess in parallel: a delay applied to each failed answer limits nothing when a hundred guesses are
//   in flight at once. So the throttle decides *before* a credential's outcome is known, synchronously (one JS
//   turn, so concurrent requests cannot race past each other), and over its budget it refuses (429);
// - attackers hold a low-value credential (a leaked read-only token): if a success cleared the count, every
//   fifth request could be a success that buys four more guesses. So nothing but time clears failures: they age
//   out of the window, whoever succeeds meanwhile;
// - IdPs share addresses: Okta and Entra provision from shared egress ranges, so one tenant's IdP with a stale
//   (or another tenant's) token must not stop every other tenant's provisioning from that range. So a credential
//   that is valid is never refused here because others failed from its address:
//   - a static token (SCIM bearer, event receiver, /status sign-in) is a synchronous digest lookup, done before
//     the throttle decides (`checked`): a valid one is served, and takes the open spacing slot when the address
//     is over its budget, so interleaved successes never buy a guess; an invalid one counts as a failure and,
//     over the budget, is answered 429 like anything refused. The answer to a throttled address thus still says
//     whether a static token is valid: what makes guessing those hopeless is their length (at least 32
//     characters, 128 bits and more of `openssl rand -hex 32`), not the throttle;
//   - a JWT needs an asynchronous signature check (and may need a JWKS fetch): the work a flood feeds on. Over the
//     budget, only a JWT whose unverified header and claims name this server's accepted algorithm, issuer and
//     audience, and that has not expired, is verified (`admitVouched`), and at most `maxVouchedChecks` such
//     verifications per address run at once; each invalid one still counts, and is answered 429 like a refused
//     one. Forging one that verifies takes the issuer's private key, so a bounded number let through opens no
//     guessing and no flood of parallel verifications; everything else is refused unchecked.

export interface FailureThrottleOptions {
  /** Failures inside the window a client may have before its checks are spaced out. */
  threshold?: number;
  windowMs?: number;
  /** The first spacing; each further failure doubles it up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Credential checks a client with no recent failure may have in flight at once (JWT checks are async). A
   * client with failures gets only what is left of `threshold`, counting its checks in flight as failures.
   */
  maxConcurrentChecks?: number;
  /**
   * Over the budget, the JWT verifications (vouched for by their unverified claims, see above) a client may still
   * have in flight at once. Default maxConcurrentChecks: an IdP behind a throttled address keeps the parallelism
   * it has anywhere, and a forger gains nothing it would not have from a fresh address (and no guess: see above).
   */
  maxVouchedChecks?: number;
  /**
   * The memory bound: at most this many clients are tracked (each a handful of timestamps, well under
   * 200 bytes), the least recently failing one evicted first. Default 10,000, about 2 MB at worst.
   */
  maxTrackedClients?: number;
  clock?: Clock;
}

/** The outcome of a credential check the throttle admitted; exactly one call per admitted attempt. */
export interface Attempt {
  failed(): void;
  /** The credential was good, or could not be checked for a reason that is not the client's (JWKS down). */
  settled(): void;
}

export type Admission =
  | {
      admitted: true;
      attempt: Attempt;
      /** Set when admitted over the budget (`admitVouched`): a credential found invalid is then answered as refused. */
      overBudget?: { retryAfterMs: number };
    }
  | { admitted: false; retryAfterMs: number };

/** The outcome of a credential checked synchronously: refused only when it was invalid and the client throttled. */
export type CheckedVerdict = { refused: false } | { refused: true; retryAfterMs: number };

interface ClientState {
  /** Failure timestamps inside the window, oldest first. */
  failures: number[];
  /** Checks admitted and not yet settled. */
  pending: number;
  /** Of those, the JWT verifications admitted over the budget. */
  vouchedPending: number;
  /** Over the budget, the next check is admitted no earlier than this. */
  nextSlotAt: number;
}

export class FailureThrottle {
  /** Least recently seen first out once `maxTrackedClients` are tracked. */
  private readonly clients: LRUCache<string, ClientState>;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxConcurrentChecks: number;
  private readonly maxVouchedChecks: number;
  private readonly maxTrackedClients: number;
  /** Timestamps kept per client: past this many the spacing is already at its cap. */
  private readonly kept: number;
  private readonly clock: Clock;
  private sweeper: TimerHandle | undefined;
  private closed = false;

  constructor(opts: FailureThrottleOptions = {}) {
    this.threshold = opts.threshold ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 5_000;
    this.maxConcurrentChecks = opts.maxConcurrentChecks ?? 16;
    this.maxVouchedChecks = opts.maxVouchedChecks ?? this.maxConcurrentChecks;
    this.maxTrackedClients = opts.maxTrackedClients ?? 10_000;
    this.clock = opts.clock ?? systemClock;
    this.clients = new LRUCache({ max: this.maxTrackedClients });
    const doublings = this.baseDelayMs > 0 ? Math.ceil(Math.log2(Math.max(1, this.maxDelayMs / this.baseDelayMs))) : 0;
    this.kept = this.threshold + doublings + 1;
    this.scheduleSweep();
  }

  /** Forget quiet clients once their failures have aged out, so memory returns to nothing after an attack. */
  private scheduleSweep(): void {
    if (this.closed) return;
    // Housekeeping only: it must never keep the process alive.
    this.sweeper = this.clock.setTimeout(
      () => {
        this.sweep();
        this.scheduleSweep();
      },
      this.windowMs,
      { background: true },
    );
  }

  /**
   * Decides, before the credential is looked at, whether this client may have it checked now. Admitted
   * attempts count as in flight until settled; refused ones are not checked at all.
   */
  admit(ip: string): Admission {
    const key = clientKey(ip);
    const now = this.clock.now();
    const state = this.stateOf(key, now);
    const failures = state.failures.length;
    const free = failures === 0 ? state.pending < this.maxConcurrentChecks : failures + state.pending < this.threshold;
    if (!free) {
      if (now < state.nextSlotAt) return { admitted: false, retryAfterMs: state.nextSlotAt - now };
      state.nextSlotAt = now + this.delayFor(failures + state.pending - this.threshold + 1);
    }
    return { admitted: true, attempt: this.track(key, state, false) };
  }

  /**
   * For a JWT whose unverified header and claims name what this server accepts: admitted as by `admit`, and
   * over the budget still admitted while fewer than `maxVouchedChecks` of them are in flight for this client;
   * such an attempt carries `overBudget`, and if it fails the caller answers as if it had been refused.
   */
  admitVouched(ip: string): Admission {
    const admission = this.admit(ip);
    if (admission.admitted) return admission;
    const key = clientKey(ip);
    const state = this.stateOf(key, this.clock.now());
    if (state.vouchedPending >= this.maxVouchedChecks) return admission;
    return {
      admitted: true,
      attempt: this.track(key, state, true),
      overBudget: { retryAfterMs: admission.retryAfterMs },
    };
  }

  /**
   * For a credential already checked, synchronously (a static token's digest lookup). A valid one is never
   * refused; it takes the open spacing slot as any admitted check does, so a success never buys a guess. An
   * invalid one is refused when the client is over its budget, and otherwise counted as a failure.
   */
  checked(ip: string, valid: boolean): CheckedVerdict {
    const admission = this.admit(ip);
    if (!admission.admitted)
      return valid ? { refused: false } : { refused: true, retryAfterMs: admission.retryAfterMs };
    if (valid) admission.attempt.settled();
    else admission.attempt.failed();
    return { refused: false };
  }

  get trackedClients(): number {
    return this.clients.size;
  }

  /** Counts a check in flight until its outcome settles it, once. */
  private track(key: string, state: ClientState, vouched: boolean): Attempt {
    state.pending++;
    if (vouched) state.vouchedPending++;
    let done = false;
    const settle = (failed: boolean) => {
      if (done) return;
      done = true;
      state.pending--;
      if (vouched) state.vouchedPending--;
      if (failed) this.recordFailure(key, state);
      else if (state.pending === 0 && state.failures.length === 0 && this.clients.peek(key) === state)
        this.clients.delete(key);
    };
    return { failed: () => settle(true), settled: () => settle(false) };
  }

  /** Stops the housekeeping timer (shutdown, tests). */
  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.sweeper);
    this.sweeper = undefined;
  }

  private stateOf(key: string, now: number): ClientState {
    const state = this.clients.get(key) ?? { failures: [], pending: 0, vouchedPending: 0, nextSlotAt: 0 };
    state.failures = state.failures.filter((t) => now - t < this.windowMs);
    // Setting marks the client most recently seen; past the bound the least recently seen one is evicted.
    this.clients.set(key, state);
    return state;
  }

  private recordFailure(key: string, state: ClientState): void {
    state.failures.push(this.clock.now());
    if (state.failures.length > this.kept) state.failures.splice(0, state.failures.length - this.kept);
    // An evicted client that was still in flight comes back with the failure it just made.
    if (!this.clients.has(key)) this.clients.set(key, state);
  }

  /** Spacing after the n-th failure over the threshold: base, doubling, capped. */
  private delayFor(excess: number): number {
    return Math.min(this.baseDelayMs * 2 ** Math.max(0, excess - 1), this.maxDelayMs);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, state] of [...this.clients.entries()]) {
      state.failures = state.failures.filter((t) => now - t < this.windowMs);
      if (state.failures.length === 0 && state.pending === 0 && now >= state.nextSlotAt) this.clients.delete(key);
    }
  }
}

/** IPv4 (including IPv4-mapped IPv6) as is; other IPv6 addresses reduced to their /64 prefix. */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  const address = ip.split('%')[0].toLowerCase();
  const [head, tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '') || '0')
    .join(':')}::/64`;
}
