import { type Clock, type TimerHandle } from '../platform/clock';
import { KitAuthError, KitError, KitUnavailableError } from '../kit/errors';

// What every doctor check shares: the result shape, the check names, and the helpers for waiting visibly.

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: CheckId;
  check: string;
  status: CheckStatus;
  result: string;
  /** What to do: the fix for a failure, advice for a pass worth a second look. */
  fix?: string;
  /**
   * With a tenants file: the tenant this check is about. Absent on the checks of the whole process (the file
   * itself, Redis, PUBLIC_BASE_URL, shared Kit keys), and on every check without a tenants file.
   */
  tenant?: string;
}

export const CHECKS = {
  config: 'configuration valid',
  kitReachable: 'Kit reachable',
  kitCredential: 'Kit credential accepted',
  tokenStore: 'OAuth token store writable',
  reservedFields: 'reserved custom fields',
  reservedTags: 'reserved tags',
  groupPrefix: 'GROUP_TAG_PREFIX vs existing tags',
  sharedLimiter: 'Kit keys shared by tenants',
  redis: 'Redis and the shared limiter',
  redisTopology: 'Redis failover topology (sentinel, cluster)',
  publicUrl: 'PUBLIC_BASE_URL reachable',
  scimRoundTrip: 'SCIM round-trip (dry run)',
} as const;
export type CheckId = keyof typeof CHECKS;

/** The checks made against one Kit account, once per tenant, in the order a failure blocks the next. */
export const KIT_ACCOUNT_CHECKS = [
  'kitReachable',
  'kitCredential',
  'tokenStore',
  'reservedFields',
  'reservedTags',
  'groupPrefix',
] as const satisfies readonly CheckId[];

export type Add = (id: CheckId, status: CheckStatus, result: string, fix?: string) => void;
export type Waiting = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

// An operator is waiting on every call: interactive, ahead of replicas' background pulls.
export const DOCTOR_CALL = { priority: 'interactive' as const };

export function explain(err: unknown): string {
  if (err instanceof KitError) {
    const status = err.status === undefined ? '' : `HTTP ${err.status}: `;
    return `${status}${err instanceof KitUnavailableError || err instanceof KitAuthError ? err.message : err.kitMessage || err.message}`;
  }
  return (err as Error).message;
}

/** Resolves once `ready()` holds or `ms` have passed, polling on the clock. */
export function until(ready: () => boolean, ms: number, clock: Clock): Promise<void> {
  const deadline = clock.now() + ms;
  return new Promise((resolve) => {
    const poll = () => {
      if (ready() || clock.now() >= deadline) resolve();
      else clock.setTimeout(poll, 50);
    };
    poll();
  });
}

/**
 * Runs `fn`, reporting "<what> (N s)" about once a second while it has not finished after the first second:
 * a doctor waiting on a busy shared limiter must not look hung.
 */
export function progressReporter(clock: Clock, progress?: (message: string) => void): Waiting {
  return async (what, fn) => {
    if (!progress) return fn();
    const started = clock.now();
    let timer: TimerHandle | undefined;
    const tick = () => {
      progress(`${what} (${Math.round((clock.now() - started) / 1000)} s)`);
      timer = clock.setTimeout(tick, 1000, { background: true });
    };
    timer = clock.setTimeout(tick, 1000, { background: true });
    try {
      return await fn();
    } finally {
      clock.clearTimeout(timer);
    }
  };
}
