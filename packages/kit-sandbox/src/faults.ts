// Injected failures, so the Kit client's retries, backoff and error mapping can be tested against the kinds of
// trouble Kit documents: 500 ("the server is overloaded or you encounter a bug"), 413 (bulk queue full), 429,
// slow answers, dropped connections and answers in a shape Kit does not document. Deterministic when seeded, and failNext is exact.

export interface Faults {
  /** Share (0..1) of calls answered 500 {errors:["Internal server error"]}. */
  errorRate: number;
  /** Added before answering. */
  latencyMs: number;
  /** Share (0..1) of calls whose socket is destroyed without a response. */
  dropRate: number;
  /** The next N matching calls answer failStatus. */
  failNext: number;
  failStatus: number;
  /**
   * The next N matching calls are answered 200 with a body that is not the shape Kit documents (what a proxy's
   * page or a changed API looks like to the client), after the handler ran: the call may have been applied.
   */
  malformedNext: number;
  /** Route patterns ("GET /v4/subscribers/:id"); when set, faults apply only to these. */
  endpoints?: string[];
  /** Seeds the pseudo-random choices for errorRate and dropRate. */
  seed?: number;
}

export type FaultOutcome =
  { kind: 'none' } | { kind: 'drop' } | { kind: 'fail'; status: number } | { kind: 'malformed' };

export interface FaultDecision {
  latencyMs: number;
  outcome: FaultOutcome;
}

const NO_FAULTS: Faults = { errorRate: 0, latencyMs: 0, dropRate: 0, failNext: 0, failStatus: 500, malformedNext: 0 };

/** The 200 body of a `malformed` fault: none of the keys any Kit answer documents. */
export const MALFORMED_BODY = { unexpected: 'Injected fault: a body that is not the shape Kit documents' };

/** mulberry32: small, fast, good enough to spread injected faults reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private faults: Faults = { ...NO_FAULTS };
  private random: () => number = Math.random;

  current(): Faults {
    return { ...this.faults, endpoints: this.faults.endpoints && [...this.faults.endpoints] };
  }

  /** Merges into the current faults; a `seed` restarts the pseudo-random sequence. */
  set(partial: Partial<Faults>): Faults {
    const next: Faults = { ...this.faults };
    const rate = (v: unknown, name: string) => {
      const n = Number(v);
      if (!(n >= 0 && n <= 1)) throw new Error(`${name} must be between 0 and 1`);
      return n;
    };
    const whole = (v: unknown, name: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number >= 0`);
      return n;
    };
    if (partial.errorRate !== undefined) next.errorRate = rate(partial.errorRate, 'errorRate');
    if (partial.dropRate !== undefined) next.dropRate = rate(partial.dropRate, 'dropRate');
    if (partial.latencyMs !== undefined) next.latencyMs = whole(partial.latencyMs, 'latencyMs');
    if (partial.failNext !== undefined) next.failNext = whole(partial.failNext, 'failNext');
    if (partial.malformedNext !== undefined) next.malformedNext = whole(partial.malformedNext, 'malformedNext');
    if (partial.failStatus !== undefined) {
      const status = whole(partial.failStatus, 'failStatus');
      if (status < 400 || status > 599) throw new Error('failStatus must be an HTTP error status (400..599)');
      next.failStatus = status;
    }
    if ('endpoints' in partial) {
      if (partial.endpoints !== undefined && partial.endpoints !== null && !Array.isArray(partial.endpoints)) {
        throw new Error('endpoints must be an array of route patterns');
      }
      next.endpoints = partial.endpoints ? partial.endpoints.map(String) : undefined;
    }
    if (partial.seed !== undefined) {
      next.seed = Number(partial.seed);
      this.random = seededRandom(next.seed);
    }
    this.faults = next;
    return this.current();
  }

  reset(): void {
    this.faults = { ...NO_FAULTS };
    this.random = Math.random;
  }

  decide(endpoint: string): FaultDecision {
    const f = this.faults;
    if (f.endpoints && !f.endpoints.includes(endpoint)) return { latencyMs: 0, outcome: { kind: 'none' } };
    if (f.failNext > 0) {
      f.failNext--;
      return { latencyMs: f.latencyMs, outcome: { kind: 'fail', status: f.failStatus } };
    }
    if (f.malformedNext > 0) {
      f.malformedNext--;
      return { latencyMs: f.latencyMs, outcome: { kind: 'malformed' } };
    }
    if (f.dropRate > 0 && this.random() < f.dropRate) return { latencyMs: f.latencyMs, outcome: { kind: 'drop' } };
    if (f.errorRate > 0 && this.random() < f.errorRate) {
      return { latencyMs: f.latencyMs, outcome: { kind: 'fail', status: 500 } };
    }
    return { latencyMs: f.latencyMs, outcome: { kind: 'none' } };
  }
}

/** The body Kit sends for each status a fault can produce. */
export function faultMessage(status: number): string {
  switch (status) {
    case 500:
      return 'Internal server error';
    case 413:
      return 'This request exceeds your queued bulk requests limit. Please wait while we process your existing requests and try again later.';
    case 429:
      return 'Rate limit exceeded. Please wait and try again.';
    case 502:
      return 'Bad gateway';
    case 503:
      return 'Service unavailable';
    case 504:
      return 'Gateway timeout';
    default:
      return `Injected fault (HTTP ${status})`;
  }
}
