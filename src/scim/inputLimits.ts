import { isForbiddenSegment } from '../platform/forbiddenKeys';

// Budgets for what one request may ask of the parsers (one request must never take the server down).
// Every limit is checked before the input reaches scimmy or any other library, on text whose length is already
// capped, so the work a refused request costs is linear in what it sent. docs/provisioning.md "Limitations" lists them.

/** Characters in a filter (query string or POST /.search). Real IdP filters are a few hundred characters. */
export const MAX_FILTER_LENGTH = 8192;
/** Nesting of parentheses, `not (…)` and `attr[…]` in a filter. IdPs nest two or three levels at most. */
export const MAX_FILTER_DEPTH = 10;
/** Comparisons (`attr op value`, `attr pr`) in one filter. */
export const MAX_FILTER_COMPARISONS = 256;
/**
 * OR'd terms a filter stands for once every AND of ORs is multiplied out: `(a or b) and (c or d)` is 4 terms,
 * sixteen such pairs are 65,536. Counted on the parse tree without multiplying anything out.
 */
export const MAX_FILTER_TERMS = 256;
/** Characters in one attribute path (the longest URN-qualified path in our schemas is under 80). */
export const MAX_ATTRIBUTE_PATH_LENGTH = 256;
/** Names in `attributes` / `excludedAttributes`. */
export const MAX_ATTRIBUTE_NAMES = 64;
/** Characters in a PATCH operation's path (a filtered path such as `members[value eq "…"]` included). */
export const MAX_PATCH_PATH_LENGTH = 1024;
/** Operations in one PATCH request. */
export const MAX_PATCH_OPERATIONS = 1000;
/**
 * Member ids named in one group write (POST/PUT/PATCH, adds and removes together). Bounds the Kit calls one
 * request can spend: adding costs ceil(k/100) bulk calls, removing one call per actual member.
 */
export const MAX_GROUP_MEMBERS_PER_REQUEST = 10_000;
/**
 * Values in one multi-valued attribute of a User body (emails, phoneNumbers, addresses…). Kit keeps one email
 * and a few fields per subscriber; scimmy's schema coercion costs ~0.1 ms a value in one synchronous pass, so a
 * 1 MB body of 40,000 emails held the event loop for seconds before this bound.
 */
export const MAX_USER_VALUES = 100;

/**
 * The first array in a body holding more than `max` values, as a path (`emails`, `Operations[0].value`), or
 * undefined. One pass over what JSON parsing already bounded (SCIM_MAX_BODY_BYTES, 64 levels).
 */
export function crowdedArray(body: unknown, max: number, path = ''): string | undefined {
  if (Array.isArray(body)) {
    if (body.length > max) return path || 'the body';
    for (let i = 0; i < body.length; i++) {
      const found = crowdedArray(body[i], max, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  } else if (body !== null && typeof body === 'object') {
    for (const [key, value] of Object.entries(body)) {
      const found = crowdedArray(value, max, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Skipped member ids written out in full to a log line or audit record; the rest is a count. */
export const SKIPPED_IDS_LOGGED = 20;
/** RFC 5321: a forward path holds at most 254 characters of address; anything longer is no email. */
export const MAX_EMAIL_LENGTH = 254;

/** The forbidden segment in a dotted or URN-qualified path, if any. */
export function forbiddenSegmentOf(path: string): string | undefined {
  return path.split(/[.:[\]\s]/).find(isForbiddenSegment);
}

/** Characters an attribute path is made of (URN-qualified and dotted): a clip never ends inside a run of them. */
const PATH_CHARACTER = /[A-Za-z0-9$_.:-]/;

/**
 * Text clipped to about `max` characters for an error detail or log line, so an answer never echoes megabytes
 * back. An attribute path the cut would split (`…extension:enterprise:2.0:User:m…` tells the reader nothing) is
 * kept whole when it is no longer than any path the parsers accept; a longer run is hostile and cut at `max`.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const limit = Math.min(text.length, max + MAX_ATTRIBUTE_PATH_LENGTH);
  if (PATH_CHARACTER.test(text[max - 1] ?? '')) {
    while (end < limit && PATH_CHARACTER.test(text[end])) end++;
    if (end === limit && end < text.length && PATH_CHARACTER.test(text[end])) end = max;
  }
  return end >= text.length ? text : `${text.slice(0, end)}…`;
}

/** Client input quoted in an error detail or log line, clipped (whole attribute paths kept; see clipText). */
export function quoteInput(text: string, max = 60): string {
  return JSON.stringify(clipText(text, max));
}

/** A list of client-supplied ids for a log line or audit detail: the count, and the first few, each clipped. */
export function summariseIds(ids: readonly string[]): { count: number; first: string[] } {
  return {
    count: ids.length,
    first: ids.slice(0, SKIPPED_IDS_LOGGED).map((id) => (id.length > 40 ? `${id.slice(0, 40)}…` : id)),
  };
}
