import SCIMMY from 'scimmy';
import {
  KitAuthError,
  KitError,
  KitFieldNotStoredError,
  KitLimiterUnavailableError,
  KitNotFoundError,
  KitRateLimitedError,
  KitRequestError,
  KitUnavailableError,
  KitValidationError,
} from '../kit/errors';
import {
  ScimBadGateway,
  ScimBadRequest,
  ScimConflict,
  ScimError,
  ScimForbidden,
  ScimInternalError,
  ScimNotFound,
  ScimServiceUnavailable,
  ScimTooManyRequests,
  type ScimType,
} from './errors';

// The one place where failures become SCIM answers (CONTRACT.md "Errors"). An upstream failure is never a
// 404: a reconciliation engine would take it for a deletion.

const retryAfterSeconds = (ms: number | undefined, fallback: number) =>
  Math.max(1, Math.ceil((ms ?? fallback * 1000) / 1000));

type KitRule = [new (...args: any[]) => KitError, (e: any) => ScimError];

const kitRules: KitRule[] = [
  [
    KitAuthError,
    (e: KitAuthError) =>
      new ScimBadGateway(
        'Kit rejected this server’s own Kit credentials (KIT_API_KEY or OAuth tokens). This is not a problem with your SCIM token: an operator must fix the Kit credentials.',
        { cause: e },
      ),
  ],
  [
    KitNotFoundError,
    (e: KitNotFoundError) => new ScimNotFound(`Kit has no such resource: ${e.kitMessage}`, { cause: e }),
  ],
  [
    KitValidationError,
    (e: KitValidationError) =>
      e.isUniquenessClash
        ? new ScimConflict(`Kit refused a duplicate value: ${e.kitMessage}`, e)
        : new ScimBadRequest('invalidValue', `Kit refused a value: ${e.kitMessage}`, e),
  ],
  [
    KitRateLimitedError,
    (e: KitRateLimitedError) =>
      new ScimTooManyRequests(
        'Kit’s rate limit (calls per rolling minute) is exhausted for longer than this request may wait; retry after the given delay.',
        retryAfterSeconds(e.retryAfterMs, 30),
        e,
      ),
  ],
  [
    KitLimiterUnavailableError,
    (e: KitLimiterUnavailableError) =>
      new ScimServiceUnavailable(
        'The shared rate limiter (Redis) that keeps every replica within Kit’s budget is unavailable; nothing was sent to Kit and Kit itself may be fine. Retry later.',
        retryAfterSeconds(e.retryAfterMs, 5),
        e,
      ),
  ],
  [
    KitUnavailableError,
    (e: KitUnavailableError) =>
      new ScimServiceUnavailable(
        `Kit is unavailable (${e.status ?? 'no response'}) after retries; nothing was reported as missing. Retry later.`,
        retryAfterSeconds(e.retryAfterMs, 30),
        e,
      ),
  ],
  [
    KitFieldNotStoredError,
    (e: KitFieldNotStoredError) =>
      new ScimBadGateway(
        `${e.message}. Kit silently drops values for custom fields that do not exist; the field may have been deleted in Kit. Restart the server to recreate its reserved fields.`,
        { cause: e },
      ),
  ],
  [
    KitRequestError,
    (e: KitRequestError) => new ScimBadGateway(`Kit refused the request: ${e.kitMessage}`, { cause: e }),
  ],
];

/** Translates any failure into the SCIM error the client sees. Unknown failures become a generic 500. */
export function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof KitError) {
    for (const [type, translate] of kitRules) if (err instanceof type) return translate(err);
    return new ScimBadGateway(`Kit failed: ${err.kitMessage}`, { cause: err });
  }
  // scimmy's own validation (schema coercion, PatchOp) raises SCIMMY.Types.Error with a proper status.
  if (err instanceof SCIMMY.Types.Error) {
    const e = err as unknown as { status: number; scimType?: ScimType; message: string };
    const detail = clientWording(e.message);
    if (e.status === 404) return new ScimNotFound(detail, { cause: err });
    // scimmy refuses what an endpoint does not support (a filter on discovery, RFC 7644 §4) with a 403.
    if (e.status === 403) return new ScimForbidden(detail, { cause: err });
    if (e.status === 409) return new ScimConflict(detail, err);
    if (e.status >= 400 && e.status < 500) return new ScimBadRequest(e.scimType ?? 'invalidValue', detail, err);
  }
  return new ScimInternalError('Internal server error; the failure was logged with this request’s id.', { cause: err });
}

/** scimmy reports bad input from schema coercion as a TypeError; only at those call sites is that the client's fault. */
export function asInvalidValue<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TypeError) throw new ScimBadRequest('invalidValue', clientWording(err.message), err);
    throw err;
  }
}

/** Phrases of the JavaScript engine, not of scimmy's validation: they would tell the client our internals. */
const ENGINE_WORDING =
  /is not a function|Cannot read propert|Cannot set propert|is not iterable|is not a constructor|Cannot convert|Maximum call stack|of undefined|of null|\?\./;
/** Longest library message passed on; scimmy echoes the offending input, which can be a megabyte. */
const MAX_DETAIL = 300;

/** A library's message as the client may read it: its own validation wording, never the engine's, clipped. */
export function clientWording(message: string): string {
  if (ENGINE_WORDING.test(message)) return 'A value in the request does not fit the SCIM schema of this resource.';
  return message.length > MAX_DETAIL ? `${message.slice(0, MAX_DETAIL)}…` : message;
}
