// One exception per SCIM status (RFC 7644 §3.12), raised by the SCIM layer and rendered at the HTTP edge.
// Kit failures arrive as the KitError family and are translated in src/scim/errorTable.ts, nowhere else.

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
  | 'sensitive';

export abstract class ScimError extends Error {
  abstract readonly status: number;
  readonly scimType?: ScimType;
  /** Seconds, sent as Retry-After with 429 and 503. */
  readonly retryAfterSeconds?: number;

  constructor(detail: string, opts: { scimType?: ScimType; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.scimType = opts.scimType;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  get detail(): string {
    return this.message;
  }
}

export class ScimBadRequest extends ScimError {
  readonly status = 400;
  constructor(scimType: ScimType, detail: string, cause?: unknown) {
    super(detail, { scimType, cause });
  }
}

export class ScimUnauthorized extends ScimError {
  readonly status = 401;
}

export class ScimForbidden extends ScimError {
  readonly status = 403;
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

export class ScimPreconditionFailed extends ScimError {
  readonly status = 412;
}

export class ScimPayloadTooLarge extends ScimError {
  readonly status = 413;
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
