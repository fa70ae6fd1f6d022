import { type Clock, systemClock } from './clock';
import { maskSecrets } from './logging';

// Liveness and readiness for orchestrators and load balancers. Both endpoints answer without credentials,
// so what they say is kept to check names, ok flags and short, masked details of what is failing.

export interface CheckState {
  ok: boolean;
  /** Only shown while the check is failing. */
  detail?: string;
  /** When the check last changed between ok and failing (ISO 8601). */
  since: string;
}

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  shuttingDown: boolean;
  /** A tenant's: whether it runs on the built-in in-memory Kit sandbox, never the real Kit. */
  sandbox?: boolean;
  checks: Record<string, { ok: boolean; detail?: string; since: string }>;
}

const MAX_DETAIL_LENGTH = 300;

export class Readiness {
  private readonly checks = new Map<string, CheckState>();
  /** Set (or call beginShutdown) once shutdown starts: /readyz then answers 503 whatever the checks say. */
  shuttingDown = false;
  private readonly clock: Clock;
  private readonly sandbox?: boolean;

  /** `sandbox`: a tenant's readiness says whether the Kit behind it is the built-in sandbox. */
  constructor(opts: { clock?: Clock; sandbox?: boolean } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.sandbox = opts.sandbox;
  }

  /** Declares a check that must pass before the server is ready; it starts out failing. */
  register(name: string, detail = 'not checked yet'): void {
    if (!this.checks.has(name)) this.checks.set(name, { ok: false, detail, since: this.timestamp() });
  }

  /** Records a check's outcome, registering it if needed. */
  set(name: string, ok: boolean, detail?: string): void {
    const previous = this.checks.get(name);
    const since = previous && previous.ok === ok ? previous.since : this.timestamp();
    this.checks.set(name, { ok, detail: detail === undefined ? undefined : clean(detail), since });
  }

  /** From now on /readyz answers 503 so load balancers stop sending new requests while in-flight ones finish. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  get ready(): boolean {
    return !this.shuttingDown && [...this.checks.values()].every((c) => c.ok);
  }

  report(): ReadinessReport {
    const checks: ReadinessReport['checks'] = {};
    for (const [name, state] of this.checks) {
      checks[name] =
        state.ok || state.detail === undefined
          ? { ok: state.ok, since: state.since }
          : { ok: state.ok, detail: state.detail, since: state.since };
    }
    return {
      status: this.ready ? 'ok' : 'unavailable',
      shuttingDown: this.shuttingDown,
      ...(this.sandbox === undefined ? {} : { sandbox: this.sandbox }),
      checks,
    };
  }

  private timestamp(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** Details come from error messages, which may quote upstream answers; keep them short and credential-free. */
function clean(detail: string): string {
  const masked = maskSecrets(detail).replace(/\s+/g, ' ').trim();
  return masked.length > MAX_DETAIL_LENGTH ? `${masked.slice(0, MAX_DETAIL_LENGTH - 1)}…` : masked;
}
