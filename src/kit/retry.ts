// When a failed Kit call may be sent again, and how long to wait first. Pure functions: the client feeds
// them what happened, they answer; nothing here sleeps or talks to Kit.

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  /** The first backoff is drawn from [baseDelayMs/2, baseDelayMs], each later one doubles. */
  baseDelayMs: number;
  /** No computed backoff exceeds this (a Retry-After from Kit is honoured as given). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

/**
 * What sending a request again does after an *ambiguous* failure (5xx, timeout, connection reset), when Kit may
 * or may not have applied the first attempt. Each request states its own (src/kit/request.ts), where it is made:
 * - 'idempotent': a repeat has the effect of one attempt (every read; updates to given values; tagging and
 *   untagging; unsubscribing; Kit's upserts keyed by email). Repeated.
 * - 'uniqueName': creates a thing whose name Kit keeps unique (a tag, a custom field). Not idempotent: when the
 *   first attempt was applied, the repeat is refused 422 "already been taken". Repeated only through
 *   KitCaller.createOrFind, which answers that refusal by looking the name up.
 * - 'once': a repeat could act twice (a second webhook) or cannot be told apart from a replay (the OAuth
 *   refresh, whose refresh token the first attempt may have consumed). Never repeated after an ambiguous failure.
 *
 * Failures Kit answered *before* doing anything (429, 413 "bulk queue full") and connections that never
 * reached Kit (refused, DNS) are safe to repeat whatever the declaration.
 */
export type Repeat = 'idempotent' | 'uniqueName' | 'once';

/** Network error codes meaning the request may have reached Kit and been applied. */
const AMBIGUOUS_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ESOCKETTIMEDOUT']);
/** Network error codes meaning the request never left this machine or never reached Kit. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface FailedAttempt {
  /** What the request declared about being sent again. */
  repeat: Repeat;
  /** Kit queues the request behind the account's other bulk requests (see KitRequest.queued). */
  queued?: boolean;
  /** HTTP status when Kit answered. */
  status?: number;
  /** Node/axios error code when it did not (ECONNRESET, ECONNABORTED…). */
  errorCode?: string;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  maxAttempts?: number;
}

/** Kit did not act on the request: repeating it is safe whatever the call. */
export function wasNotProcessed(f: Pick<FailedAttempt, 'queued' | 'status' | 'errorCode'>): boolean {
  if (f.status === 429) return true;
  // 413 on a queued (bulk) request is Kit's "queued bulk requests limit"; elsewhere it means the body is too big.
  if (f.status === 413) return f.queued === true;
  return f.status === undefined && f.errorCode !== undefined && UNSENT_CODES.has(f.errorCode);
}

/** Kit may have applied the request even though we saw a failure. */
export function isAmbiguous(f: Pick<FailedAttempt, 'status' | 'errorCode'>): boolean {
  if (f.status !== undefined) return f.status >= 500;
  if (f.errorCode === undefined) return false;
  return AMBIGUOUS_CODES.has(f.errorCode) || /hang up/i.test(f.errorCode);
}

/** Transient from our side: retrying later could succeed (whether or not *we* may retry this call). */
export function isTransient(f: Pick<FailedAttempt, 'queued' | 'status' | 'errorCode'>): boolean {
  return wasNotProcessed(f) || isAmbiguous(f);
}

export function isRetryable(f: FailedAttempt): boolean {
  if (f.attempt >= (f.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts)) return false;
  if (wasNotProcessed(f)) return true;
  return isAmbiguous(f) && f.repeat !== 'once';
}

/**
 * Delay before attempt `attempt + 1`. With a Retry-After from Kit, exactly that (Kit knows its window; waiting
 * less earns another 429, waiting more wastes budget). Otherwise exponential backoff with jitter drawn from the
 * upper half of [0, base·2^(attempt-1)] capped at maxDelayMs: jitter de-synchronises replicas retrying the same
 * outage, the floor keeps a retry from landing back inside the same 5xx burst.
 */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'> = DEFAULT_RETRY_POLICY,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) return Math.ceil(retryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/** Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
