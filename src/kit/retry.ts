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
 * Which calls may be sent again after an *ambiguous* failure (5xx, timeout, connection reset), i.e. when Kit
 * may or may not have applied the first attempt. Keyed by route pattern.
 *
 * | call                                            | safe | why                                                            |
 * |-------------------------------------------------|------|----------------------------------------------------------------|
 * | GET (every read)                                | yes  | no effect                                                      |
 * | PUT /v4/subscribers/:id                         | yes  | idempotent: the same payload sets the same values              |
 * | PUT /v4/tags/:id                                | yes  | idempotent rename                                              |
 * | POST /v4/subscribers/:id/unsubscribe            | yes  | idempotent: an inactive subscriber stays inactive              |
 * | POST /v4/tags/:tag_id/subscribers/:id           | yes  | idempotent: Kit answers 200 when the tag is already there      |
 * | DELETE /v4/tags/:tag_id/subscribers/:id         | yes  | idempotent; a 404 after an ambiguous attempt means "done"      |
 * | POST /v4/bulk/tags/subscribers                  | yes  | a set of taggings, each idempotent                             |
 * | POST /v4/bulk/subscribers                       | yes  | upserts keyed by email, same payload                           |
 * | POST /v4/subscribers                            | yes  | Kit's upsert dedupes by email, so a repeat cannot duplicate;   |
 * |                                                 |      | the client reports created:true when the final 200 follows an  |
 * |                                                 |      | ambiguous attempt (that attempt most likely created it)        |
 * | POST /v4/tags, POST /v4/custom_fields           | yes  | a repeat may answer 422 "already been taken": the client then  |
 * |                                                 |      | looks the tag/field up by name and returns it                  |
 * | POST /oauth/token                               | no   | the refresh token rotates: the first attempt may have consumed |
 * |                                                 |      | it, and a repeat cannot be told apart from a replay            |
 * | anything else                                   | no   | unknown effect                                                 |
 *
 * Failures Kit answered *before* doing anything (429, 413 "bulk queue full") and connections that never
 * reached Kit (refused, DNS) are safe to repeat for every call.
 */
export const SAFE_TO_REPEAT: ReadonlySet<string> = new Set([
  'PUT /v4/subscribers/:id',
  'PUT /v4/tags/:id',
  'POST /v4/subscribers/:id/unsubscribe',
  'POST /v4/tags/:tag_id/subscribers/:id',
  'DELETE /v4/tags/:tag_id/subscribers/:id',
  'POST /v4/bulk/tags/subscribers',
  'POST /v4/bulk/subscribers',
  'POST /v4/subscribers',
  'POST /v4/tags',
  'POST /v4/custom_fields',
]);

/** Network error codes meaning the request may have reached Kit and been applied. */
const AMBIGUOUS_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ESOCKETTIMEDOUT']);
/** Network error codes meaning the request never left this machine or never reached Kit. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface FailedAttempt {
  method: string;
  /** Route pattern, e.g. "PUT /v4/subscribers/:id". */
  endpoint: string;
  /** HTTP status when Kit answered. */
  status?: number;
  /** Node/axios error code when it did not (ECONNRESET, ECONNABORTED…). */
  errorCode?: string;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  maxAttempts?: number;
}

function isBulk(endpoint: string): boolean {
  return endpoint.startsWith('POST /v4/bulk/');
}

/** Kit did not act on the request: repeating it is safe whatever the call. */
export function wasNotProcessed(f: Pick<FailedAttempt, 'endpoint' | 'status' | 'errorCode'>): boolean {
  if (f.status === 429) return true;
  // 413 on a bulk route is Kit's "queued bulk requests limit"; elsewhere it means the body is too big.
  if (f.status === 413) return isBulk(f.endpoint);
  return f.status === undefined && f.errorCode !== undefined && UNSENT_CODES.has(f.errorCode);
}

/** Kit may have applied the request even though we saw a failure. */
export function isAmbiguous(f: Pick<FailedAttempt, 'status' | 'errorCode'>): boolean {
  if (f.status !== undefined) return f.status >= 500;
  if (f.errorCode === undefined) return false;
  return AMBIGUOUS_CODES.has(f.errorCode) || /hang up/i.test(f.errorCode);
}

/** Transient from our side: retrying later could succeed (whether or not *we* may retry this call). */
export function isTransient(f: Pick<FailedAttempt, 'endpoint' | 'status' | 'errorCode'>): boolean {
  return wasNotProcessed(f) || isAmbiguous(f);
}

export function isSafeToRepeat(method: string, endpoint: string): boolean {
  return method.toUpperCase() === 'GET' || SAFE_TO_REPEAT.has(endpoint);
}

export function isRetryable(f: FailedAttempt): boolean {
  if (f.attempt >= (f.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts)) return false;
  if (wasNotProcessed(f)) return true;
  return isAmbiguous(f) && isSafeToRepeat(f.method, f.endpoint);
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
