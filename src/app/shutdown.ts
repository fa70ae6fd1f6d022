import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../platform/clock';
import type { Readiness } from '../platform/readiness';
import type { ScimHttpServer } from '../http/httpServer';
import type { KitLimiter } from '../kit/limiter';

// Graceful shutdown, in the order that loses nothing: see shutDown.

export interface ShutdownParts {
  readiness: Readiness;
  /** Read when needed: a listen() still opening when the shutdown begins may set it meanwhile. */
  http(): ScimHttpServer | undefined;
  /** Every Kit limiter of the process (one per Kit credential, shared by the tenants on it). */
  limiter: Pick<KitLimiter, 'stop'>;
  /** Closed last, once nothing can use them any more (audit file, failure throttle, Redis). */
  resources: Array<{ close(): void | Promise<void> } | undefined>;
  /** Stops what would start new work on its own (the start-up retries). */
  stopBackground(): void;
  /**
   * Wakes Kit calls sleeping between retries: Kit work not yet sent, like the calls queued in the limiter.
   * Woken after the limiter stopped, they meet it stopped and answer a retryable 503 at once.
   */
  wakeBackoffs(): void;
  logger: Logger;
  clock: Clock;
  /** SHUTDOWN_TIMEOUT_MS. */
  timeoutMs: number;
}

/**
 * Within `timeoutMs` less a second for the rest of the process:
 * 1. /readyz answers 503, so load balancers stop sending traffic;
 * 2. the listening socket closes, idle keep-alive connections close, requests arriving on open connections
 *    get a retryable 503 with Retry-After;
 * 3. Kit calls waiting in the limiter are given up: their requests answer 503 with Retry-After and nothing
 *    is sent to Kit for them; calls already talking to Kit finish, so no write is cut in half;
 * 4. in-flight requests finish and their connections close; past the deadline, what is left is cut.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { clock, logger } = parts;
  const started = clock.now();
  const budgetMs = Math.max(500, parts.timeoutMs - 1000);
  const remaining = () => budgetMs - (clock.now() - started);
  parts.stopBackground();
  parts.readiness.beginShutdown();
  parts.http()?.drain();
  const limiterStopped = parts.limiter.stop();
  parts.wakeBackoffs();
  if (!(await settlesWithin(limiterStopped, remaining(), clock))) {
    logger.warn('Kit calls still running at the shutdown deadline');
  }
  const http = parts.http();
  if (http && !(await http.closed(remaining()))) {
    logger.warn('requests still running at the shutdown deadline; their connections were closed');
  }
  for (const resource of parts.resources) await resource?.close();
}

/** Whether `p` settled within `ms`; never rejects and leaves no timer behind. */
async function settlesWithin(p: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  let timer: TimerHandle | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
