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
  KitWritePendingError,
  KitValidationError,
} from '../kit/errors';
import {
  clientWording,
  ScimBadGateway,
  ScimBadRequest,
  ScimConflict,
  ScimError,
  ScimForbidden,
  ScimInternalError,
  ScimNotFound,
  ScimPayloadTooLarge,
  ScimServiceUnavailable,
  ScimTooManyRequests,
  ScimUnsupportedMediaType,
  type ScimType,
} from '../scim/errors';
import { retryAfterSeconds } from '../platform/retryAfter';

// The one place where failures of other families become SCIM errors: Kit's (docs/kit/api.md "Errors"), scimmy's
// validation, express's body parsing. It lives at the HTTP edge because it is the only code that must know
// every family; the SCIM layer and the Kit client each know only their own. An upstream failure is never a
// 404: a reconciliation engine would take it for a deletion.

/** Kit's wait, or `fallback` seconds when Kit named none. */
const retryAfterOr = (ms: number | undefined, fallback: number) => retryAfterSeconds(ms ?? fallback * 1000);

/** A Kit error class and its SCIM error; the first rule whose class matches translates. */
type KitRule = (err: KitError) => ScimError | undefined;

function rule<E extends KitError>(type: new (...args: never[]) => E, translate: (e: E) => ScimError): KitRule {
  return (err) => (err instanceof type ? translate(err) : undefined);
}

const kitRules: KitRule[] = [
  rule(
    KitAuthError,
    (e: KitAuthError) =>
      new ScimBadGateway(
        'Kit rejected this server’s own Kit credentials (KIT_API_KEY or OAuth tokens). This is not a problem with your SCIM token: an operator must fix the Kit credentials.',
        { cause: e },
      ),
  ),
  rule(
    KitNotFoundError,
    (e: KitNotFoundError) => new ScimNotFound(`Kit has no such resource: ${e.kitMessage}`, { cause: e }),
  ),
  rule(KitValidationError, (e: KitValidationError) =>
    e.isUniquenessClash
      ? new ScimConflict(`Kit refused a duplicate value: ${e.kitMessage}`, e)
      : new ScimBadRequest('invalidValue', `Kit refused a value: ${e.kitMessage}`, e),
  ),
  rule(
    KitRateLimitedError,
    (e: KitRateLimitedError) =>
      new ScimTooManyRequests(
        'Kit’s rate limit (calls per rolling minute) is exhausted for longer than this request may wait; retry after the given delay.',
        retryAfterOr(e.retryAfterMs, 30),
        e,
      ),
  ),
  rule(
    KitLimiterUnavailableError,
    (e: KitLimiterUnavailableError) =>
      new ScimServiceUnavailable(
        'The shared rate limiter (Redis) that keeps every replica within Kit’s budget is unavailable; nothing was sent to Kit and Kit itself may be fine. Retry later.',
        retryAfterOr(e.retryAfterMs, 5),
        e,
      ),
  ),
  rule(
    KitWritePendingError,
    (e: KitWritePendingError) =>
      new ScimServiceUnavailable(
        'Kit accepted the change but applies it later (its 202 for updates of 11 or more fields), and reading it back does not show it yet. The change is safe to repeat: retry after the given delay.',
        retryAfterOr(e.retryAfterMs, 5),
        e,
      ),
  ),
  rule(
    KitUnavailableError,
    (e: KitUnavailableError) =>
      new ScimServiceUnavailable(
        `Kit is unavailable (${e.status ?? 'no response'}) after retries; nothing was reported as missing. Retry later.`,
        retryAfterOr(e.retryAfterMs, 30),
        e,
      ),
  ),
  rule(
    KitFieldNotStoredError,
    (e: KitFieldNotStoredError) =>
      new ScimBadGateway(
        `${e.message}. Kit silently drops values for custom fields that do not exist; the field may have been deleted in Kit. Restart the server to recreate its reserved fields.`,
        { cause: e },
      ),
  ),
  rule(
    KitRequestError,
    (e: KitRequestError) => new ScimBadGateway(`Kit refused the request: ${e.kitMessage}`, { cause: e }),
  ),
];

/** Translates any failure into the SCIM error the client sees. Unknown failures become a generic 500. */
export function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof KitError) {
    for (const translate of kitRules) {
      const translated = translate(err);
      if (translated) return translated;
    }
    return new ScimBadGateway(`Kit failed: ${err.kitMessage}`, { cause: err });
  }
  const parsing = bodyParsingError(err);
  if (parsing) return parsing;
  // scimmy's own validation (schema coercion, PatchOp) raises SCIMMY.Types.Error with a proper status.
  if (err instanceof SCIMMY.Types.Error) {
    const e = err as unknown as { status: number; scimType?: ScimType; message: string };
    const detail = clientWording(e.message);
    if (e.status === 404) return new ScimNotFound(detail, { cause: err });
    // scimmy refuses what an endpoint does not support (a filter on discovery, RFC 7644 §4) with a 403.
    if (e.status === 403) return new ScimForbidden(detail, { cause: err });
    if (e.status === 409) return new ScimConflict(detail, err);
    if (e.scimType === 'uniqueness') return new ScimConflict(detail, err);
    if (e.scimType === 'tooMany') return new ScimPayloadTooLarge(detail, { scimType: 'tooMany', cause: err });
    if (e.status >= 400 && e.status < 500) return new ScimBadRequest(e.scimType ?? 'invalidValue', detail, err);
  }
  return new ScimInternalError('Internal server error; the failure was logged with this request’s id.', { cause: err });
}

/** What express.json (body-parser, through http-errors) throws: a `type` naming the failure, a 4xx status. */
interface BodyParsingFailure {
  type?: unknown;
  status?: unknown;
  limit?: unknown;
}

function bodyParsingError(err: unknown): ScimError | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as BodyParsingFailure;
  if (e.type === 'entity.too.large') {
    return new ScimPayloadTooLarge(`The request body exceeds the limit of ${String(e.limit)} bytes.`, { cause: err });
  }
  if (e.type === 'entity.parse.failed')
    return new ScimBadRequest('invalidSyntax', 'The request body is not valid JSON.', err);
  if (typeof e.type === 'string' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    // Any other refusal of the body parser: a charset or encoding it cannot decode, a body cut short.
    if (e.status === 415) return new ScimUnsupportedMediaType('The request could not be read.', { cause: err });
    return new ScimBadRequest('invalidSyntax', 'The request could not be read.', err);
  }
  return undefined;
}
