import type { z } from 'zod';
import {
  KitAuthError,
  type KitError,
  type KitErrorInit,
  KitNotFoundError,
  KitRateLimitedError,
  KitRequestError,
  KitUnavailableError,
  KitUnreadableAnswerError,
  KitValidationError,
} from './errors';

// The one place that turns what Kit (or the network) answered into the KitError family.

/** Kit's `errors` array, verbatim; anything else (an HTML page from a proxy, OAuth's error object) is reduced. */
export function kitErrors(body: unknown): string[] {
  if (body && typeof body === 'object') {
    const errors = (body as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors.filter((e): e is string => typeof e === 'string');
    // Kit v3: {"error": "Authorization Failed", "message": "API Key not present"}.
    const v3 = body as { error?: unknown; message?: unknown };
    if (typeof v3.error === 'string' && typeof v3.message === 'string') return [v3.message];
    // RFC 6749 §5.2 error response from /oauth/token: the code and description carry no secret.
    const oauth = body as { error?: unknown; error_description?: unknown };
    if (typeof oauth.error === 'string')
      return [typeof oauth.error_description === 'string' ? `${oauth.error}: ${oauth.error_description}` : oauth.error];
  }
  return [];
}

export function errorForStatus(status: number, body: unknown, endpoint: string, retryAfterMs?: number): KitError {
  const errors = kitErrors(body);
  const init: KitErrorInit = { status, errors, endpoint, retryAfterMs };
  const said = errors.length > 0 ? `: ${errors.join('; ')}` : '';
  const message = `Kit answered ${status} to ${endpoint}${said}`;
  if (status === 401 || status === 403) return new KitAuthError(message, init);
  if (status === 404) return new KitNotFoundError(message, init);
  if (status === 422) return new KitValidationError(message, init);
  if (status === 429) return new KitRateLimitedError(message, init);
  if (status >= 500 || status === 413) return new KitUnavailableError(message, init);
  return new KitRequestError(message, init);
}

/**
 * A failure with no HTTP answer. The cause is rebuilt from the code and message only: an axios error carries
 * the request config, headers included, i.e. our credentials.
 */
export function errorForNetwork(code: string, detail: string, endpoint: string, retryAfterMs?: number): KitError {
  const cause = new Error(`${code}: ${detail}`);
  return new KitUnavailableError(`Kit could not be reached for ${endpoint} (${code})`, {
    endpoint,
    retryAfterMs,
    cause,
  });
}

/**
 * A 2xx whose body does not match the shape Kit documents. The message names where it differs (path and what was
 * expected), never the values: a body may carry subscribers' data.
 */
export function errorForUnreadableAnswer(status: number, endpoint: string, issues: z.core.$ZodIssue[]): KitError {
  const where = issues.slice(0, 3).map((i) => {
    const expected = 'expected' in i && typeof i.expected === 'string' ? ` (expected ${i.expected})` : '';
    return `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.code}${expected}`;
  });
  const more = issues.length > 3 ? `; ${issues.length - 3} more` : '';
  return new KitUnreadableAnswerError(
    `Kit answered ${status} to ${endpoint} with a body that is not the shape Kit documents (${where.join('; ')}${more})`,
    { status, endpoint },
  );
}
