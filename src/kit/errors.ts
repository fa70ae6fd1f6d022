// The typed error family for everything that goes wrong talking to Kit. Raised by the Kit client only;
// translated into SCIM errors once, in src/http/errorTable.ts.

export interface KitErrorInit {
  status?: number;
  /** Kit's own `errors` strings, verbatim. Never contains credentials. */
  errors?: string[];
  endpoint?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class KitError extends Error {
  readonly status?: number;
  readonly errors: string[];
  readonly endpoint?: string;
  readonly retryAfterMs?: number;

  constructor(message: string, init: KitErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.errors = init.errors ?? [];
    this.endpoint = init.endpoint;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Kit's messages joined for a human, falling back to our own message. */
  get kitMessage(): string {
    return this.errors.length > 0 ? this.errors.join('; ') : this.message;
  }
}

/** 401/403 on our own Kit credentials (or a refresh that failed). The IdP must never see this as its own 401. */
export class KitAuthError extends KitError {}

/** 404 from Kit: the subscriber, tag or field does not exist. */
export class KitNotFoundError extends KitError {}

/** 422 from Kit: an invalid value, or a uniqueness clash ("has already been taken"). */
export class KitValidationError extends KitError {
  get isUniquenessClash(): boolean {
    return this.errors.some((e) => /already been taken|already exists/i.test(e));
  }
}

/** 429 from Kit that outlasted our retries, or a limiter queue wait that would outlast the caller. */
export class KitRateLimitedError extends KitError {}

/** 5xx, 413 (bulk queue full), timeouts and connection resets that outlasted our retries; or shutdown. */
export class KitUnavailableError extends KitError {}

/**
 * The rate limiter every replica shares (through Redis) could not book a slot, and no per-replica fallback is
 * configured: nothing was sent to Kit, and Kit itself may be fine.
 */
export class KitLimiterUnavailableError extends KitUnavailableError {
  constructor(reason: string) {
    super(`The shared Kit rate limiter is unavailable (${reason}); the call was not sent to Kit`, {
      retryAfterMs: 5000,
    });
  }
}

/**
 * Kit accepted a write but its echo shows a value that did not stick: Kit silently drops values for custom
 * fields that do not exist (docs/kit/traps.md "Silent field drops").
 */
export class KitFieldNotStoredError extends KitError {
  readonly fields: string[];
  constructor(fields: string[], init: KitErrorInit = {}) {
    super(`Kit did not store the value of ${fields.map((f) => `"${f}"`).join(', ')}`, init);
    this.fields = fields;
  }
}

/**
 * Kit answered 202 ("applied later", v3 updates with 11–140 fields) and reading the subscriber back does not show
 * the change yet. Retryable: the write is idempotent, and Kit usually applies it within seconds.
 */
export class KitWritePendingError extends KitUnavailableError {}

/**
 * Kit answered 2xx with a body that is not the shape it documents (a proxy's page, a changed or broken API): the
 * request may have been applied, its answer cannot be used. Never retried; an upstream failure (502) for the IdP.
 */
export class KitUnreadableAnswerError extends KitError {}

/** Any other 4xx we did not expect (400, 405, 409…). */
export class KitRequestError extends KitError {}
