import { clipText } from './inputLimits';

// One exception per SCIM status (RFC 7644 §3.12), raised where the failure arises (SCIM layer, auth, the HTTP
// edge) and rendered by sendFailure (src/http/scimResponses.ts). Failures of other families (Kit's, scimmy's,
// body parsing) are translated into these in src/http/errorTable.ts, nowhere else.

export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  // RFC 9865 §2.1: a cursor the server did not issue (or for another query), one past its cursorTimeout, and a
  // cursor page's count above maxPageSize or other than the count the walk started with.
  | 'invalidCursor'
  | 'expiredCursor'
  | 'invalidCount';

/** The scimTypes RFC 7644 §3.12 gives a 400; `uniqueness` (409) and `tooMany` (a body: 413; a filter: 400) have classes of their own. */
export type BadRequestScimType = Exclude<ScimType, 'uniqueness' | 'tooMany'>;

export interface ScimErrorOptions {
  scimType?: ScimType;
  /** Seconds, sent as Retry-After with 429 and 503. */
  retryAfterSeconds?: number;
  /** HTTP authentication challenge (RFC 6750 §3), sent as WWW-Authenticate with 401 and 403. */
  challenge?: string;
  cause?: unknown;
}

export abstract class ScimError extends Error {
  abstract readonly status: number;
  readonly scimType?: ScimType;
  readonly retryAfterSeconds?: number;
  readonly challenge?: string;

  constructor(detail: string, opts: ScimErrorOptions = {}) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.scimType = opts.scimType;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.challenge = opts.challenge;
  }

  get detail(): string {
    return this.message;
  }
}

export class ScimBadRequest extends ScimError {
  readonly status = 400;
  constructor(scimType: BadRequestScimType | undefined, detail: string, cause?: unknown) {
    super(detail, { scimType, cause });
  }
}

/**
 * RFC 7644 §3.12 tooMany as a 400: the filter would cost more than the server is willing to calculate (its
 * terms × the rows it has to decide exceed the scan budget).
 */
export class ScimFilterTooCostly extends ScimError {
  readonly status = 400;
  constructor(detail: string) {
    super(detail, { scimType: 'tooMany' });
  }
}

/** A missing or bad credential; `challenge` is the WWW-Authenticate answer. */
export class ScimUnauthorized extends ScimError {
  readonly status = 401;
  constructor(detail: string, challenge: string) {
    super(detail, { challenge });
  }
}

export class ScimForbidden extends ScimError {
  readonly status = 403;
  constructor(detail: string, opts: { challenge?: string; cause?: unknown } = {}) {
    super(detail, opts);
  }
}

export class ScimNotFound extends ScimError {
  readonly status = 404;
}

export class ScimConflict extends ScimError {
  readonly status = 409;
  constructor(detail: string, cause?: unknown) {
    super(detail, { scimType: 'uniqueness', cause });
  }
}

/** The request did not arrive in time (Node's request timeout). */
export class ScimRequestTimeout extends ScimError {
  readonly status = 408;
}

export class ScimPreconditionFailed extends ScimError {
  readonly status = 412;
}

export class ScimPayloadTooLarge extends ScimError {
  readonly status = 413;
  constructor(detail: string, opts: { scimType?: 'tooMany'; cause?: unknown } = {}) {
    super(detail, opts);
  }
}

/** The request line and headers exceed Node's limit (RFC 6585). */
export class ScimHeadersTooLarge extends ScimError {
  readonly status = 431;
}

export class ScimTooManyRequests extends ScimError {
  readonly status = 429;
  constructor(detail: string, retryAfterSeconds: number, cause?: unknown) {
    super(detail, { retryAfterSeconds, cause });
  }
}

export class ScimInternalError extends ScimError {
  readonly status = 500;
}

export class ScimNotImplemented extends ScimError {
  readonly status = 501;
}

/** Kit refused our own credentials, or answered something we cannot use: the fault is upstream, not the IdP's. */
export class ScimBadGateway extends ScimError {
  readonly status = 502;
}

export class ScimServiceUnavailable extends ScimError {
  readonly status = 503;
  constructor(detail: string, retryAfterSeconds: number, cause?: unknown) {
    super(detail, { retryAfterSeconds, cause });
  }
}

/** A body that is not JSON at all (a form post, text): the Content-Type, not the content, is the problem. */
export class ScimUnsupportedMediaType extends ScimError {
  readonly status = 415;
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
  return clipText(message, MAX_DETAIL);
}
