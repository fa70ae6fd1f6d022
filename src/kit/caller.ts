import type http from 'node:http';
import type https from 'node:https';
import { type Authenticator, authenticatorFor } from './credentials';
import { errorForNetwork, errorForStatus, errorForUnreadableAnswer } from './errorMapping';
import { type KitError, KitRateLimitedError, type KitValidationError } from './errors';
import type { KitLimiter, LimiterPriority } from './limiter';
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isAmbiguous,
  isRetryable,
  isTransient,
  parseRetryAfter,
  type RetryPolicy,
} from './retry';
import type { HttpExchange, KitRequest } from './request';
import type { KitCredentials } from '../config/kitCredentials';
import type { CallOptions, KitCallRecord } from './types';
import type { TokenStore } from './tokenStore';
import { KitTransport, type Outcome } from './transport';

// The core every Kit resource module calls through: one logical call = as many HTTP exchanges as the retry
// rules and the request's own declaration allow, each admitted by the credential's limiter and carrying the
// current credential. Resource modules (resources/*.ts, v3/*.ts) describe each request: Kit's URL, the body, the
// answer's shape and whether it may be repeated; this file knows none of them.

export interface KitCallerOptions {
  /** e.g. https://api.convertkit.com (no /v4). */
  baseUrl: string;
  credentials: KitCredentials;
  /** Shared by every client using this credential; see createKitLimiter / limiterIdFor. */
  limiter: KitLimiter;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Once per HTTP exchange (every attempt, failed ones included). */
  onCall?: (record: KitCallRecord) => void;
  /** Where rotated OAuth tokens live; without one, rotated tokens last as long as the process. */
  tokenStore?: TokenStore;
  /** Applied to calls that pass no maxWaitMs of their own. */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  httpAgent?: http.Agent;
  httpsAgent?: https.Agent;
  /** See TransportOptions.redact. */
  redact?: (text: string) => string;
  /** The HTTP exchanges; by default a KitTransport built from the options above (unit tests pass their own). */
  transport?: Pick<KitTransport, 'send'>;
}

/** Kit's 2xx answer, parsed with the request's `answer` schema. */
export interface Answer<T> {
  status: number;
  data: T;
  /** An earlier attempt failed in a way that Kit may nonetheless have applied. */
  ambiguousBefore: boolean;
}

/** A final non-2xx answer the caller accepted (CallHooks.acceptStatus): Kit's error body, unparsed. */
export interface Refusal {
  status: number;
  refused: unknown;
  ambiguousBefore: boolean;
}

export interface CallHooks {
  /**
   * A final failure with this status is an answer, not an error: e.g. a 422 "already been taken" that the
   * caller resolves itself (createOrFind), or a 404 on the repeat of an untag Kit already applied.
   */
  acceptStatus?: (status: number, ambiguousBefore: boolean) => boolean;
}

/** Requests `call` sends: a 'uniqueName' request is repeated only through createOrFind, which resolves the clash. */
export type PlainRequest<T> = KitRequest<T> & { repeat: 'idempotent' | 'once' };
export type UniqueNameRequest<T> = KitRequest<T> & { repeat: 'uniqueName' };

export function isRefusal<T>(a: Answer<T> | Refusal): a is Refusal {
  return 'refused' in a;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class KitCaller {
  private readonly transport: Pick<KitTransport, 'send'>;
  private readonly auth: Authenticator;
  private readonly limiter: KitLimiter;
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly defaultMaxWaitMs?: number;

  constructor(opts: KitCallerOptions) {
    this.limiter = opts.limiter;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.defaultMaxWaitMs = opts.maxWaitMs;
    this.transport =
      opts.transport ??
      new KitTransport({
        baseUrl: opts.baseUrl,
        timeoutMs: opts.timeoutMs,
        httpAgent: opts.httpAgent,
        httpsAgent: opts.httpsAgent,
        onCall: opts.onCall,
        now: this.now,
        redact: opts.redact,
      });
    this.auth = authenticatorFor(opts.credentials, (req) => this.exchangeToken(req), opts.tokenStore);
  }

  /** The KitError a refusal stands for (for refusals a hook accepted and the caller rejects after all). */
  private errorFor(refusal: Refusal, endpoint: string): KitError {
    return errorForStatus(refusal.status, refusal.refused, endpoint);
  }

  /** One logical call answered 2xx; throws the KitError of the last failure. */
  async call<T>(req: PlainRequest<T>, opts?: CallOptions): Promise<Answer<T>> {
    return (await this.exchange(req, opts, {})) as Answer<T>;
  }

  /** call, answering the parsed body only. */
  async data<T>(req: PlainRequest<T>, opts?: CallOptions): Promise<T> {
    return (await this.call(req, opts)).data;
  }

  /** Like call, but a final status `acceptStatus` accepts is answered as a Refusal instead of thrown. */
  callAccepting<T>(
    req: PlainRequest<T>,
    opts: CallOptions | undefined,
    acceptStatus: NonNullable<CallHooks['acceptStatus']>,
  ): Promise<Answer<T> | Refusal> {
    return this.exchange(req, opts, { acceptStatus });
  }

  /**
   * Creates a named thing (tag, custom field) whose name Kit keeps unique. A 422 "already been taken" is
   * resolved by looking the name up: always when `clash` is 'find' (ensuring a reserved name exists, another
   * replica may have created it), only after an ambiguous attempt when 'own' (our lost first attempt created
   * it). Returns the thing and whether this call created it.
   */
  async createOrFind<T>(
    req: UniqueNameRequest<T>,
    opts: CallOptions | undefined,
    lookup: () => Promise<T | undefined>,
    clash: 'find' | 'own',
  ): Promise<{ item: T; created: boolean }> {
    const a = await this.exchange(req, opts, {
      acceptStatus: (s, ambiguous) => s === 422 && (clash === 'find' || ambiguous),
    });
    if (!isRefusal(a)) return { item: a.data, created: true };
    const taken = this.errorFor(a, req.endpoint) as KitValidationError;
    if (!taken.isUniquenessClash) throw taken;
    const found = await lookup();
    if (found === undefined) throw taken;
    return { item: found, created: a.ambiguousBefore };
  }

  /**
   * One logical call: as many exchanges as the request's declaration and the retry rules allow, each admitted by
   * the limiter. A 2xx is parsed with the request's schema. Throws the KitError of the last failure.
   */
  private async exchange<T>(
    req: KitRequest<T>,
    opts: CallOptions = {},
    hooks: CallHooks,
  ): Promise<Answer<T> | Refusal> {
    const maxWaitMs = opts.maxWaitMs ?? this.defaultMaxWaitMs;
    const deadline = maxWaitMs === undefined ? undefined : this.now() + maxWaitMs;
    let ambiguous = false;
    let renewedAuth = false;
    let lastError: KitError | undefined;
    for (let attempt = 1; ; attempt++) {
      const priority: LimiterPriority = attempt === 1 ? (opts.priority ?? 'interactive') : 'retry';
      let version = '';
      let outcome: Outcome;
      try {
        outcome = await this.limiter.schedule(
          async () => {
            const auth = await this.auth.current();
            version = auth.version;
            if (attempt === 1) opts.onSent?.();
            return this.transport.send(req, auth.headers, attempt, opts.signal);
          },
          {
            priority,
            maxWaitMs: deadline === undefined ? undefined : Math.max(0, deadline - this.now()),
            signal: opts.signal,
          },
        );
      } catch (e) {
        // A retry that cannot start before the caller's deadline: the failure that caused it says more.
        if (lastError && e instanceof KitRateLimitedError) throw lastError;
        throw e;
      }

      if (outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300) {
        const parsed = req.answer.safeParse(outcome.data);
        if (!parsed.success) throw errorForUnreadableAnswer(outcome.status, req.endpoint, parsed.error.issues);
        return { status: outcome.status, data: parsed.data, ambiguousBefore: ambiguous };
      }
      if (outcome.kind === 'response' && outcome.status === 401 && !renewedAuth) {
        renewedAuth = true;
        if (await this.auth.recover(version)) continue;
      }
      const status = outcome.kind === 'response' ? outcome.status : undefined;
      if (status !== undefined && hooks.acceptStatus?.(status, ambiguous)) {
        return { status, refused: (outcome as { data: unknown }).data, ambiguousBefore: ambiguous };
      }

      const failure = {
        repeat: req.repeat,
        queued: req.queued,
        status,
        errorCode: outcome.kind === 'network' ? outcome.code : undefined,
        attempt,
        maxAttempts: this.policy.maxAttempts,
      };
      const retryAfterMs =
        outcome.kind === 'response' ? parseRetryAfter(outcome.headers['retry-after'], this.now()) : undefined;
      const transient = isTransient(failure);
      const delay = backoffMs(attempt, retryAfterMs, this.random, this.policy);
      const error =
        outcome.kind === 'response'
          ? errorForStatus(outcome.status, outcome.data, req.endpoint, transient ? (retryAfterMs ?? delay) : undefined)
          : errorForNetwork(outcome.code, outcome.detail, req.endpoint, transient ? delay : undefined);
      if (!isRetryable(failure)) throw error;
      if (deadline !== undefined && this.now() + delay > deadline) throw error;
      lastError = error;
      if (isAmbiguous(failure)) ambiguous = true;
      if (status === 429) {
        // Kit's window is shared by every caller of this credential: all of them wait, and this call waits in
        // the limiter's retry lane, first in line once the pause ends.
        this.limiter.pauseFor(delay);
      } else {
        await this.sleep(delay);
      }
    }
  }

  /**
   * POST /oauth/token for the OAuth session: reported through onCall, sent once. It bypasses the limiter: Kit
   * meters its v4 API per credential, not the OAuth token endpoint, and the calls waiting for the new token
   * would otherwise queue behind it.
   */
  private exchangeToken(req: HttpExchange): Promise<Outcome> {
    return this.transport.send(req, {}, 1);
  }
}

export function withoutUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
