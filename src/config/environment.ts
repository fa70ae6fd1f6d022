import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { type Cidr, parseCidr } from './cidr';
import type { KitCredentials } from './kitCredentials';
import { MappingFileError } from './mapping/mappingFile';
import { loadMapping } from './mapping/mappingSource';
import type { AttributeMapping } from './mapping/model';

// Read and validated once, in main.ts; everything below it receives the typed result. Nothing else reads
// process.env.

const positiveInt = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n > 0, `${name} must be greater than 0`);

const wholeNumber = (name: string) => z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const url = (name: string) =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, `${name} must be an http(s) URL`);

export interface BearerToken {
  /** A name for logs and the audit trail; the token itself is never logged. */
  name: string;
  token: string;
  readOnly: boolean;
}

/**
 * RFC 6750 tokens are guessable when short; 32 characters of `openssl rand -hex 32` (64) carry far more than the
 * 128 bits that make guessing pointless, and a short token is usually a placeholder left in a config.
 */
export const MIN_BEARER_TOKEN_LENGTH = 32;

/** `name=token` or bare `token`, comma-separated. */
function parseTokens(raw: string | undefined, readOnly: boolean, prefix: string): BearerToken[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const eq = entry.indexOf('=');
      const [name, token] = eq > 0 ? [entry.slice(0, eq), entry.slice(eq + 1)] : [`${prefix}-${i + 1}`, entry];
      return { name, token, readOnly };
    });
}

/** A comma-separated list, entries trimmed, empty entries dropped. */
function listOf(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port: what a Host header carries.
const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const envSchema = z
  .object({
    // 0: any free port, chosen when listening and logged in the "listening" line (tests, supervisors).
    PORT: z
      .string()
      .regex(/^\d+$/, 'PORT must be a whole number')
      .transform(Number)
      .refine((n) => n <= 65535, 'PORT must be at most 65535')
      .default(8080),
    HOST: z.string().default('0.0.0.0'),
    KIT_API_URL: url('KIT_API_URL').default('https://api.convertkit.com'),
    KIT_API_KEY: optionalString,
    KIT_ACCESS_TOKEN: optionalString,
    KIT_REFRESH_TOKEN: optionalString,
    KIT_CLIENT_ID: optionalString,
    KIT_CLIENT_SECRET: optionalString,
    KIT_TOKEN_STORE: optionalString,
    // Kit's legacy v3 API (src/kit/v3/): the api_secret travels as a parameter; README "Kit v3 accounts".
    KIT_API_VERSION: z.enum(['v4', 'v3']).default('v4'),
    KIT_API_SECRET: optionalString,
    KIT_RATE_LIMIT_PER_MINUTE: positiveInt('KIT_RATE_LIMIT_PER_MINUTE')
      .default(120)
      .refine((n) => n <= 120, 'KIT_RATE_LIMIT_PER_MINUTE cannot exceed Kit’s limit of 120'),
    KIT_RATE_WINDOW_MS: positiveInt('KIT_RATE_WINDOW_MS').default(60000),
    KIT_MAX_WAIT_MS: positiveInt('KIT_MAX_WAIT_MS').default(25000),
    KIT_TIMEOUT_MS: positiveInt('KIT_TIMEOUT_MS').default(15000),
    KIT_SANDBOX_PORT: positiveInt('KIT_SANDBOX_PORT').optional(),
    // on: the built-in sandbox even where the environment says "deployment"; off: never; unset: see kitSandboxMode.
    KIT_SANDBOX: z.enum(['on', 'off']).optional(),
    SCIM_BEARER_TOKENS: optionalString,
    SCIM_READONLY_BEARER_TOKENS: optionalString,
    SCIM_JWT_JWKS_URL: optionalString.pipe(url('SCIM_JWT_JWKS_URL').optional()),
    SCIM_JWT_ISSUER: optionalString,
    SCIM_JWT_AUDIENCE: optionalString,
    SCIM_JWT_ALGORITHMS: z.string().default('RS256,ES256'),
    SCIM_JWT_CLOCK_SKEW_SECONDS: z.string().regex(/^\d+$/).transform(Number).default(60),
    SCIM_MAX_BODY_BYTES: positiveInt('SCIM_MAX_BODY_BYTES').default(1048576),
    GROUP_TAG_PREFIX: optionalString,
    SCIM_MAPPING_FILE: optionalString,
    FILTER_SCAN_BUDGET: positiveInt('FILTER_SCAN_BUDGET').default(10_000_000),
    TRUST_PROXY: optionalString,
    PUBLIC_BASE_URL: optionalString.pipe(
      url('PUBLIC_BASE_URL')
        .refine((v) => {
          const u = new URL(v);
          return !u.search && !u.hash && !u.username && !u.password;
        }, 'PUBLIC_BASE_URL must be a plain http(s) URL without query, fragment or credentials')
        .optional(),
    ),
    SCIM_ALLOWED_HOSTS: optionalString,
    SCIM_IP_ALLOWLIST: optionalString,
    REDIS_URL: optionalString.pipe(
      z
        .string()
        .refine((v) => /^rediss?:\/\//.test(v), 'REDIS_URL must start with redis:// or rediss://')
        .optional(),
    ),
    REDIS_COMMAND_TIMEOUT_MS: positiveInt('REDIS_COMMAND_TIMEOUT_MS').default(1000),
    REDIS_PROBE_INTERVAL_MS: positiveInt('REDIS_PROBE_INTERVAL_MS').default(1000),
    KIT_LIMITER_FALLBACK_REPLICAS: z
      .string()
      .regex(/^\d+$/, 'KIT_LIMITER_FALLBACK_REPLICAS must be a whole number (0 = no fallback)')
      .transform(Number)
      .default(2),
    KIT_LIMITER_KEY_TTL_MS: positiveInt('KIT_LIMITER_KEY_TTL_MS').default(86_400_000),
    PAGE_CACHE_MAX_ENTRIES: positiveInt('PAGE_CACHE_MAX_ENTRIES').default(40),
    PAGE_CACHE_TTL_SECONDS: positiveInt('PAGE_CACHE_TTL_SECONDS').default(300),
    LOOKUP_SNAPSHOT_SECONDS: wholeNumber('LOOKUP_SNAPSHOT_SECONDS').default(10),
    JOURNAL_MAX_SUBSCRIBERS: positiveInt('JOURNAL_MAX_SUBSCRIBERS').default(200_000),
    MIRROR: z.enum(['on', 'lookups', 'off']).optional(),
    MIRROR_REFRESH_MINUTES: positiveInt('MIRROR_REFRESH_MINUTES').default(60),
    KIT_WEBHOOKS: z.enum(['on', 'off']).optional(),
    WEBHOOK_SILENCE_SECONDS: positiveInt('WEBHOOK_SILENCE_SECONDS').default(60),
    WEBHOOK_REREAD_SHARE: positiveInt('WEBHOOK_REREAD_SHARE')
      .default(10)
      .refine((n) => n <= 100, 'WEBHOOK_REREAD_SHARE is a percentage of KIT_RATE_LIMIT_PER_MINUTE: at most 100'),
    KIT_WEBHOOK_SECRET: optionalString.pipe(
      z
        .string()
        .min(32, 'KIT_WEBHOOK_SECRET must be at least 32 characters (openssl rand -hex 32)')
        .regex(/^[A-Za-z0-9_-]+$/, 'KIT_WEBHOOK_SECRET must be letters, digits, - or _ (it is a URL path segment)')
        .optional(),
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
    AUDIT_LOG: z.string().default('stdout'),
    SHUTDOWN_TIMEOUT_MS: positiveInt('SHUTDOWN_TIMEOUT_MS').default(9000),
    STATUS_SESSION_TTL_SECONDS: positiveInt('STATUS_SESSION_TTL_SECONDS')
      .default(900)
      .refine((n) => n <= 86_400, 'STATUS_SESSION_TTL_SECONDS must be at most 86400 (a day)'),
    // Issue 15, SCIM security events (src/events): see parseEventReceivers and README "Security events".
    SCIM_EVENTS_RECEIVERS: optionalString,
    SCIM_EVENTS_SIGNING_KEY: optionalString,
    SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS: optionalString,
    SCIM_EVENTS_KEY_FILE: z.string().default('.scim-events-key.json'),
    SCIM_EVENTS_PUSH: optionalString,
    SCIM_EVENTS_DEAD_LETTER_SECONDS: positiveInt('SCIM_EVENTS_DEAD_LETTER_SECONDS').default(86_400),
    SCIM_EVENTS_OUTBOX_MAX: positiveInt('SCIM_EVENTS_OUTBOX_MAX').default(100_000),
    SCIM_EVENTS_LEASE_SECONDS: positiveInt('SCIM_EVENTS_LEASE_SECONDS').default(30),
    SCIM_EVENTS_MAX_WAIT_SECONDS: wholeNumber('SCIM_EVENTS_MAX_WAIT_SECONDS')
      .default(25)
      .refine((n) => n <= 60, 'SCIM_EVENTS_MAX_WAIT_SECONDS must be at most 60'),
    // Issue #18: several Kit accounts, each a tenant of a YAML file (src/tenants/tenantsFile.ts, README
    // "Several Kit accounts: tenants"); read by loadTenants, not here.
    TENANTS_FILE: optionalString,
  })
  .superRefine((env, ctx) => {
    const oauth = [env.KIT_ACCESS_TOKEN, env.KIT_REFRESH_TOKEN, env.KIT_CLIENT_ID, env.KIT_CLIENT_SECRET];
    const someOauth = oauth.some((v) => v !== undefined);
    if (env.KIT_API_KEY && someOauth) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_API_KEY'],
        message: 'set either KIT_API_KEY or the KIT_ACCESS_TOKEN/KIT_REFRESH_TOKEN/KIT_CLIENT_ID/KIT_CLIENT_SECRET set',
      });
    }
    if (env.KIT_REFRESH_TOKEN && !(env.KIT_CLIENT_ID && env.KIT_CLIENT_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_REFRESH_TOKEN'],
        message: 'KIT_REFRESH_TOKEN needs KIT_CLIENT_ID and KIT_CLIENT_SECRET',
      });
    }
    if (someOauth && !env.KIT_ACCESS_TOKEN && !env.KIT_REFRESH_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_ACCESS_TOKEN'],
        message: 'OAuth needs KIT_ACCESS_TOKEN or KIT_REFRESH_TOKEN',
      });
    }
    if (env.KIT_SANDBOX === 'on' && (env.KIT_API_KEY || someOauth || env.KIT_API_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_SANDBOX'],
        message: 'KIT_SANDBOX=on runs on the built-in sandbox, yet a Kit credential is set too: unset one of them',
      });
    }
    if (env.KIT_SANDBOX === 'on' && env.TENANTS_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_SANDBOX'],
        message:
          "KIT_SANDBOX=on is for the environment's one tenant: with TENANTS_FILE give an entry kit: {sandbox: true}",
      });
    }
    if (env.KIT_API_VERSION === 'v3' && (env.KIT_API_KEY || someOauth)) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_API_VERSION'],
        message: 'KIT_API_VERSION=v3 authenticates with KIT_API_SECRET only (no KIT_API_KEY or OAuth variables)',
      });
    }
    if (env.KIT_API_SECRET && env.KIT_API_VERSION !== 'v3') {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_API_SECRET'],
        message: 'KIT_API_SECRET is the v3 credential: set KIT_API_VERSION=v3 with it, or use KIT_API_KEY for v4',
      });
    }
    if (env.KIT_TOKEN_STORE === 'redis' && !env.REDIS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_TOKEN_STORE'],
        message: 'KIT_TOKEN_STORE=redis needs REDIS_URL',
      });
    }
    for (const variable of ['SCIM_BEARER_TOKENS', 'SCIM_READONLY_BEARER_TOKENS'] as const) {
      for (const t of parseTokens(env[variable], false, variable === 'SCIM_BEARER_TOKENS' ? 'token' : 'readonly')) {
        // Names the entry and its length, never the token.
        if (t.token.length < MIN_BEARER_TOKEN_LENGTH)
          ctx.addIssue({
            code: 'custom',
            path: [variable],
            message: `the token "${t.name}" is ${t.token.length} characters long; bearer tokens must be at least ${MIN_BEARER_TOKEN_LENGTH} (generate one with: openssl rand -hex 32)`,
          });
      }
    }
    for (const host of listOf(env.SCIM_ALLOWED_HOSTS)) {
      if (!HOST_PATTERN.test(host))
        ctx.addIssue({
          code: 'custom',
          path: ['SCIM_ALLOWED_HOSTS'],
          message: `"${host}" is not a host name (with an optional :port)`,
        });
    }
    if (env.SCIM_IP_ALLOWLIST !== undefined && listOf(env.SCIM_IP_ALLOWLIST).length === 0)
      ctx.addIssue({ code: 'custom', path: ['SCIM_IP_ALLOWLIST'], message: 'lists no address or range' });
    for (const entry of listOf(env.SCIM_IP_ALLOWLIST)) {
      try {
        parseCidr(entry);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['SCIM_IP_ALLOWLIST'], message: (err as Error).message });
      }
    }
    if (env.KIT_WEBHOOKS === 'on' && !env.PUBLIC_BASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_WEBHOOKS'],
        message: 'Kit webhooks need PUBLIC_BASE_URL (the address Kit delivers to)',
      });
    }
    for (const problem of eventsProblems(env)) ctx.addIssue({ code: 'custom', ...problem });
    if (env.SCIM_JWT_JWKS_URL && !(env.SCIM_JWT_ISSUER && env.SCIM_JWT_AUDIENCE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SCIM_JWT_JWKS_URL'],
        message: 'JWT auth needs SCIM_JWT_ISSUER and SCIM_JWT_AUDIENCE',
      });
    }
  });

export type { KitCredentials };

export interface JwtConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  algorithms: string[];
  clockSkewSeconds: number;
}

export type JwtDefaults = Pick<JwtConfig, 'algorithms' | 'clockSkewSeconds'>;

export interface Config {
  port: number;
  host: string;
  kit: {
    baseUrl: string;
    /** Undefined: no credentials were configured, so main.ts starts the built-in sandbox. */
    credentials?: KitCredentials;
    /** Which Kit API the client speaks (KIT_API_VERSION); v3 credentials are `v3Secret`. */
    apiVersion: 'v4' | 'v3';
    ratePerMinute: number;
    /** Kit's rolling window (60 s). Only a sandbox with another window needs a different value. */
    rateWindowMs: number;
    maxWaitMs: number;
    timeoutMs: number;
  };
  sandboxPort?: number;
  /**
   * KIT_SANDBOX. `auto`: the environment's tenant without a Kit credential runs on the built-in sandbox unless
   * something says "deployment" (then the server does not start); `on`: it does whatever else is set; `off`:
   * never, nor a tenants file's `sandbox: true` entries.
   */
  sandboxMode: 'on' | 'off' | 'auto';
  scim: {
    bearerTokens: BearerToken[];
    jwt?: JwtConfig;
    /** SCIM_JWT_ALGORITHMS and SCIM_JWT_CLOCK_SKEW_SECONDS: `jwt`'s, and those of tenants that leave them out. */
    jwtDefaults: JwtDefaults;
    maxBodyBytes: number;
    groupTagPrefix?: string;
    /** Where each SCIM attribute lives in Kit (SCIM_MAPPING_FILE, else the built-in mapping/default.yaml). */
    mapping: AttributeMapping;
    mappingFile?: string;
    /**
     * Terms × rows one request's filtered scan may cost: a filter's OR'd terms times the subscribers it has to
     * decide (the mirror's or Kit's pages). Past it the answer is 400 tooMany, not seconds of one core.
     */
    filterScanBudget: number;
  };
  /** express 'trust proxy': hop count, true, or a list of proxy addresses/subnets. */
  trustProxy?: string | number | boolean;
  /** Where resource URLs (Location, meta.location) point. */
  publicUrls: PublicUrlConfig;
  /** Networks callers may come from (SCIM_IP_ALLOWLIST); undefined: any. */
  ipAllowlist?: Cidr[];
  redisUrl?: string;
  redis: {
    /** No Redis command waits longer; past it the replica falls back (limiter) or serves uncached. */
    commandTimeoutMs: number;
    /** How often a PING checks Redis; a Redis that answers again is used again within this. */
    probeIntervalMs: number;
  };
  limiter: {
    /** While Redis is away each replica spends budget / this; 0 = refuse Kit calls (503) instead. */
    fallbackReplicas: number;
    /** How long the shared slot key outlives its last slot (it is re-created when missing). */
    keyTtlMs: number;
  };
  pageCache: { maxEntries: number; ttlSeconds: number };
  /** Start-up checks against Kit (not from the environment: fixed behaviour, named here rather than in code). */
  startup: {
    /** Pause between two failed attempts. */
    retryMs: number;
    /** Retry-After of the 503 answered to SCIM requests before the checks passed. */
    notReadyRetryAfterSeconds: number;
    /** How long main.ts waits for the checks before listening anyway (not-ready, still retrying). */
    listenAfterMs: number;
  };
  /** Issue #13: reuse of what was just read, and the journal of subscriber changes. */
  changes: {
    /** How long an IdP's lookup stands in for the read before its write; 0 = never. */
    lookupSnapshotSeconds: number;
    /** Subscribers whose latest change the journal keeps. */
    journalMaxSubscribers: number;
    /** The subscriber mirror (src/scim/mirror); on by default when webhooks are. */
    mirror: boolean;
    /**
     * Issue #20 (MIRROR=lookups, the default without webhooks): the mirror is walked only when a filter Kit
     * cannot answer (externalId, displayName, groups.value, ...) needs it, answers only such filters, and only
     * within PAGE_CACHE_TTL_SECONDS of its walk; every other read goes to Kit as with the mirror off.
     */
    lookupMirror: boolean;
    mirrorRefreshMs: number;
    /** Register Kit webhooks at start-up (needs PUBLIC_BASE_URL; on by default when it is set). */
    webhooks: boolean;
    /**
     * The unguessable path segment of the webhook receiver (Kit does not sign deliveries). KIT_WEBHOOK_SECRET,
     * else derived from the Kit credential, so every replica and every restart registers the same URL.
     */
    webhookSecret?: string;
    /** How long a delivery for the server's own state change may be overdue before webhooks count as silent. */
    webhookSilenceMs: number;
    /**
     * The percentage of the Kit budget (per rate window) that re-reads asked for by webhook deliveries may
     * spend; deliveries beyond it are dropped (the mirror's walks correct what they would have).
     */
    webhookRereadSharePercent: number;
  };
  log: { level: string; format: 'json' | 'pretty' };
  auditLog: string;
  shutdownTimeoutMs: number;
  /** The /status page (issue #19): how long a login lasts. */
  status: { sessionTtlSeconds: number };
  /** Issue 15: SCIM security events; undefined when no receiver is configured. */
  events?: EventsConfig;
}

/** Issue 15: SCIM security events (RFC 9967 SETs) for IGA receivers; present only when receivers are configured. */
export interface EventsConfig {
  receivers: EventReceiverConfig[];
  /** A private JWK (SCIM_EVENTS_SIGNING_KEY); else one generated once, kept in Redis or in `keyFile`. */
  signingKey?: Record<string, unknown>;
  /** Public JWKs still published after a rotation, for SETs signed with them and still in flight. */
  previousPublicKeys: Record<string, unknown>[];
  keyFile: string;
  /** SETs kept per receiver; past it the oldest is dropped (metric, audit line). */
  outboxMax: number;
  /** How long a polled, unacknowledged SET is held back before it is offered again. */
  leaseMs: number;
  /** Longest a long poll is held open. */
  maxWaitMs: number;
  maxEventsPerPoll: number;
  /** RFC 8935 push: receiver name → endpoint (SCIM_EVENTS_PUSH `name=url`); the others poll. */
  push: Array<{ receiver: string; url: string }>;
  /** A pushed SET still undelivered this long after it was queued is dead-lettered. */
  deadLetterMs: number;
}

/** The events settings as written (SCIM_EVENTS_* or a tenant's `events:`), times in seconds. */
export interface EventsSettings extends Pick<
  EventsConfig,
  'receivers' | 'signingKey' | 'previousPublicKeys' | 'keyFile' | 'outboxMax' | 'push'
> {
  leaseSeconds: number;
  maxWaitSeconds: number;
  deadLetterSeconds: number;
}

/** Security events as the server runs them, from the environment's settings or a tenant's. */
export function eventsConfigOf(s: EventsSettings): EventsConfig {
  return {
    receivers: s.receivers,
    signingKey: s.signingKey,
    previousPublicKeys: s.previousPublicKeys,
    keyFile: s.keyFile,
    outboxMax: s.outboxMax,
    leaseMs: s.leaseSeconds * 1000,
    maxWaitMs: s.maxWaitSeconds * 1000,
    maxEventsPerPoll: 1000,
    push: s.push,
    deadLetterMs: s.deadLetterSeconds * 1000,
  };
}

export interface EventReceiverConfig {
  name: string;
  audience: string;
  token: string;
}

/**
 * SCIM_EVENTS_RECEIVERS: comma-separated `name=token` or `name=token@audience` (the audience defaults to the name;
 * tokens are `openssl rand -hex 32`, so never hold an "@").
 */
export function parseEventReceivers(raw: string | undefined): EventReceiverConfig[] {
  return listOf(raw).map((entry) => {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq) : '';
    const rest = eq > 0 ? entry.slice(eq + 1) : entry;
    const at = rest.indexOf('@');
    const token = at >= 0 ? rest.slice(0, at) : rest;
    return { name, token, audience: at >= 0 ? rest.slice(at + 1) : name };
  });
}

/** A JSON setting: text is parsed (null when it is not JSON); a value already structured (YAML) is kept. */
export function jsonOf(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

/** What is wrong with the events settings, naming the variable and the receiver, never a token or a key. */
function eventsProblems(env: {
  SCIM_EVENTS_RECEIVERS?: string;
  SCIM_EVENTS_PUSH?: string;
  SCIM_EVENTS_SIGNING_KEY?: string;
  SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS?: string;
  PUBLIC_BASE_URL?: string;
}): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  const receivers = parseEventReceivers(env.SCIM_EVENTS_RECEIVERS);
  const at = (path: string, message: string) => problems.push({ path: [path], message });
  for (const r of receivers) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(r.name)) at('SCIM_EVENTS_RECEIVERS', 'every entry needs a name: name=token');
    else if (r.token.length < MIN_BEARER_TOKEN_LENGTH)
      at(
        'SCIM_EVENTS_RECEIVERS',
        `the token of receiver "${r.name}" is ${r.token.length} characters long; tokens must be at least ${MIN_BEARER_TOKEN_LENGTH}`,
      );
    else if (!r.audience) at('SCIM_EVENTS_RECEIVERS', `receiver "${r.name}" has an empty audience`);
  }
  for (const entry of listOf(env.SCIM_EVENTS_PUSH)) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, Math.max(eq, 0));
    if (!receivers.some((r) => r.name === name))
      at('SCIM_EVENTS_PUSH', `"${name}" is not a receiver of SCIM_EVENTS_RECEIVERS (entries are name=url)`);
    else if (!url('SCIM_EVENTS_PUSH').safeParse(entry.slice(eq + 1)).success)
      at('SCIM_EVENTS_PUSH', `the endpoint of receiver "${name}" is not an http(s) URL`);
  }
  if (new Set(receivers.map((r) => r.name)).size !== receivers.length)
    at('SCIM_EVENTS_RECEIVERS', 'receiver names must be unique');
  if (receivers.length > 0 && !env.PUBLIC_BASE_URL)
    at('SCIM_EVENTS_RECEIVERS', 'security events need PUBLIC_BASE_URL (their issuer, "iss")');
  const key = jsonOf(env.SCIM_EVENTS_SIGNING_KEY) as { d?: unknown; kty?: unknown } | null | undefined;
  if (key !== undefined && (key === null || typeof key !== 'object' || typeof key.d !== 'string'))
    at('SCIM_EVENTS_SIGNING_KEY', 'must be a private JWK (JSON with "kty" and "d")');
  const prev = jsonOf(env.SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS) as unknown;
  if (prev !== undefined && (!Array.isArray(prev) || prev.some((k) => typeof k !== 'object' || k === null || 'd' in k)))
    at('SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS', 'must be a JSON array of public JWKs (no "d")');
  return problems;
}

export interface PublicUrlConfig {
  /** The server's root URL as IdPs reach it (PUBLIC_BASE_URL), without a trailing slash or /scim/v2. */
  baseUrl?: string;
  /** Host headers (lower-cased, with port when not the default) trusted to build absolute URLs without baseUrl. */
  allowedHosts: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One problem is one line: what a console shows first is the whole story.
    super(
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Every configured secret, so the logger and the audit trail can mask them verbatim wherever they appear. */
export function secretsOf(config: Config): string[] {
  const c = config.kit.credentials;
  const kit =
    c?.kind === 'apiKey'
      ? [c.apiKey]
      : c?.kind === 'v3Secret'
        ? [c.apiSecret]
        : c
          ? [c.accessToken, c.refreshToken, c.clientSecret].filter((v): v is string => !!v)
          : [];
  const hook = config.changes?.webhookSecret ? [config.changes.webhookSecret] : [];
  const events = config.events
    ? [
        ...config.events.receivers.map((r) => r.token),
        ...(config.events.signingKey ? [JSON.stringify(config.events.signingKey)] : []),
        ...(typeof config.events.signingKey?.d === 'string' ? [config.events.signingKey.d] : []),
      ]
    : [];
  return [...kit, ...config.scim.bearerTokens.map((t) => t.token), ...hook, ...events];
}

/**
 * A secret only holders of the Kit credential can compute: the same on every replica, never sent to Kit as such.
 * `tenant` (issue #18) keeps two tenants on one Kit account from deriving the same receiver path.
 */
export function derivedWebhookSecret(
  credentials: KitCredentials | undefined,
  baseUrl: string,
  tenant?: string,
): string | undefined {
  const key =
    credentials?.kind === 'apiKey'
      ? credentials.apiKey
      : credentials?.kind === 'v3Secret'
        ? credentials.apiSecret
        : (credentials?.clientSecret ?? credentials?.refreshToken ?? credentials?.accessToken);
  if (!key) return undefined;
  const label =
    tenant === undefined ? `convertkit-scim webhooks ${baseUrl}` : `convertkit-scim webhooks ${baseUrl} ${tenant}`;
  return createHmac('sha256', key).update(label).digest('base64url').slice(0, 43);
}

/** Webhooks need a public URL for Kit to reach; the mirror follows the webhooks unless set either way. */
function mirrorAndWebhooks(
  mirror: 'on' | 'lookups' | 'off' | undefined,
  webhooks: 'on' | 'off' | undefined,
  publicBaseUrl: string | undefined,
): { mirror: boolean; lookupMirror: boolean; webhooks: boolean } {
  const hooks = publicBaseUrl !== undefined && webhooks !== 'off';
  const full = mirror === undefined ? hooks : mirror === 'on';
  // Without webhooks the full mirror would answer GET /Users/{id} up to MIRROR_REFRESH_MINUTES stale, so the
  // default is the lookup mirror: as fresh as a cached list walk (PAGE_CACHE_TTL_SECONDS), for filters only.
  const lookupMirror = mirror === 'lookups' || (mirror === undefined && !hooks);
  return { webhooks: hooks, mirror: full, lookupMirror };
}

/** The mapping file's problems (each naming its line) are configuration problems: the server does not start. */
function mappingOf(file: string | undefined): AttributeMapping {
  try {
    return loadMapping(file);
  } catch (err) {
    if (err instanceof MappingFileError) throw new ConfigError(err.problems.map((p) => `SCIM_MAPPING_FILE: ${p}`));
    throw err;
  }
}

const STARTUP: Config['startup'] = { retryMs: 5000, notReadyRetryAfterSeconds: 5, listenAfterMs: 10_000 };

/** Variables that only a deployment sets: an IdP's way in, or NODE_ENV=production (the Docker image's). */
function deploymentSignals(env: Record<string, string | undefined>): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  return [
    ...['SCIM_BEARER_TOKENS', 'SCIM_READONLY_BEARER_TOKENS'].filter(set),
    ...Object.keys(env)
      .filter((name) => name.startsWith('SCIM_JWT_') && set(name))
      .sort(),
    ...(env.NODE_ENV?.trim() === 'production' ? ['NODE_ENV=production'] : []),
  ];
}

const KIT_CREDENTIAL_VARIABLES = [
  'KIT_API_KEY',
  'KIT_ACCESS_TOKEN',
  'KIT_REFRESH_TOKEN',
  'KIT_CLIENT_ID',
  'KIT_CLIENT_SECRET',
  'KIT_API_SECRET',
] as const;

/**
 * The built-in sandbox is for trying the server out. A deployment that forgot its Kit credential would otherwise
 * provision into an in-memory Kit that forgets everything on restart while /readyz says 200, so it does not
 * start. One line: what to set, and the explicit way to run on the sandbox anyway. From the raw environment,
 * so it is reported together with any other problem.
 */
function missingKitCredential(env: Record<string, string | undefined>): string | undefined {
  const value = (name: string) => (env[name] ?? '').trim();
  const mode = value('KIT_SANDBOX');
  if (value('TENANTS_FILE') || mode === 'on' || KIT_CREDENTIAL_VARIABLES.some((name) => value(name))) return undefined;
  const signals = mode === 'off' ? [] : deploymentSignals(env);
  if (mode !== 'off' && signals.length === 0) return undefined;
  const why =
    mode === 'off'
      ? 'and KIT_SANDBOX=off rules out the built-in sandbox'
      : `yet ${signals.join(', ')} ${signals.length === 1 ? 'says' : 'say'} this is a deployment`;
  return (
    `KIT_API_KEY: no Kit credential is set, ${why}: set KIT_API_KEY (or KIT_ACCESS_TOKEN/KIT_REFRESH_TOKEN with ` +
    'KIT_CLIENT_ID/KIT_CLIENT_SECRET, or KIT_API_SECRET with KIT_API_VERSION=v3), or KIT_SANDBOX=on to run on the ' +
    'built-in in-memory Kit sandbox anyway'
  );
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const sandboxProblem = missingKitCredential(env);
  if (!parsed.success || sandboxProblem) {
    // Messages name the variable, never echo its value: it may be a secret.
    throw new ConfigError([
      ...(parsed.error?.issues ?? []).map(
        (i) => `${i.path.join('.') || 'environment'}: ${i.message.replace(/^Invalid input: /, '')}`,
      ),
      ...(sandboxProblem ? [sandboxProblem] : []),
    ]);
  }
  const e = parsed.data;
  let credentials: KitCredentials | undefined;
  if (e.KIT_API_SECRET) credentials = { kind: 'v3Secret', apiSecret: e.KIT_API_SECRET };
  else if (e.KIT_API_KEY) credentials = { kind: 'apiKey', apiKey: e.KIT_API_KEY };
  else if (e.KIT_ACCESS_TOKEN || e.KIT_REFRESH_TOKEN)
    credentials = {
      kind: 'oauth',
      accessToken: e.KIT_ACCESS_TOKEN,
      refreshToken: e.KIT_REFRESH_TOKEN,
      clientId: e.KIT_CLIENT_ID,
      clientSecret: e.KIT_CLIENT_SECRET,
      tokenStorePath: e.KIT_TOKEN_STORE ?? '.kit-tokens.json',
    };
  const jwtDefaults: JwtDefaults = {
    algorithms: listOf(e.SCIM_JWT_ALGORITHMS),
    clockSkewSeconds: e.SCIM_JWT_CLOCK_SKEW_SECONDS,
  };
  return {
    port: e.PORT,
    host: e.HOST,
    kit: {
      baseUrl: e.KIT_API_URL.replace(/\/+$/, ''),
      credentials,
      apiVersion: e.KIT_API_VERSION,
      ratePerMinute: e.KIT_RATE_LIMIT_PER_MINUTE,
      rateWindowMs: e.KIT_RATE_WINDOW_MS,
      maxWaitMs: e.KIT_MAX_WAIT_MS,
      timeoutMs: e.KIT_TIMEOUT_MS,
    },
    sandboxPort: e.KIT_SANDBOX_PORT,
    sandboxMode: e.KIT_SANDBOX ?? 'auto',
    scim: {
      bearerTokens: [
        ...parseTokens(e.SCIM_BEARER_TOKENS, false, 'token'),
        ...parseTokens(e.SCIM_READONLY_BEARER_TOKENS, true, 'readonly'),
      ],
      jwt: e.SCIM_JWT_JWKS_URL
        ? { jwksUrl: e.SCIM_JWT_JWKS_URL, issuer: e.SCIM_JWT_ISSUER!, audience: e.SCIM_JWT_AUDIENCE!, ...jwtDefaults }
        : undefined,
      jwtDefaults,
      maxBodyBytes: e.SCIM_MAX_BODY_BYTES,
      groupTagPrefix: e.GROUP_TAG_PREFIX,
      mapping: mappingOf(e.SCIM_MAPPING_FILE),
      mappingFile: e.SCIM_MAPPING_FILE,
      filterScanBudget: e.FILTER_SCAN_BUDGET,
    },
    trustProxy:
      e.TRUST_PROXY === undefined
        ? undefined
        : /^(true|false)$/i.test(e.TRUST_PROXY)
          ? e.TRUST_PROXY.toLowerCase() === 'true'
          : /^\d+$/.test(e.TRUST_PROXY)
            ? Number(e.TRUST_PROXY)
            : e.TRUST_PROXY,
    publicUrls: {
      // The server's own root; "…/scim/v2" (what an IdP is configured with) is accepted and means the same.
      baseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, '').replace(/\/scim\/v2$/i, ''),
      allowedHosts: listOf(e.SCIM_ALLOWED_HOSTS).map((h) => h.toLowerCase()),
    },
    ipAllowlist: e.SCIM_IP_ALLOWLIST ? listOf(e.SCIM_IP_ALLOWLIST).map(parseCidr) : undefined,
    redisUrl: e.REDIS_URL,
    redis: { commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS, probeIntervalMs: e.REDIS_PROBE_INTERVAL_MS },
    limiter: { fallbackReplicas: e.KIT_LIMITER_FALLBACK_REPLICAS, keyTtlMs: e.KIT_LIMITER_KEY_TTL_MS },
    pageCache: { maxEntries: e.PAGE_CACHE_MAX_ENTRIES, ttlSeconds: e.PAGE_CACHE_TTL_SECONDS },
    startup: STARTUP,
    changes: {
      lookupSnapshotSeconds: e.LOOKUP_SNAPSHOT_SECONDS,
      journalMaxSubscribers: e.JOURNAL_MAX_SUBSCRIBERS,
      ...mirrorAndWebhooks(e.MIRROR, e.KIT_WEBHOOKS, e.PUBLIC_BASE_URL),
      mirrorRefreshMs: e.MIRROR_REFRESH_MINUTES * 60_000,
      webhookSilenceMs: e.WEBHOOK_SILENCE_SECONDS * 1000,
      webhookRereadSharePercent: e.WEBHOOK_REREAD_SHARE,
      webhookSecret: mirrorAndWebhooks(e.MIRROR, e.KIT_WEBHOOKS, e.PUBLIC_BASE_URL).webhooks
        ? (e.KIT_WEBHOOK_SECRET ?? derivedWebhookSecret(credentials, e.KIT_API_URL))
        : undefined,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    auditLog: e.AUDIT_LOG,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    status: { sessionTtlSeconds: e.STATUS_SESSION_TTL_SECONDS },
    events: e.SCIM_EVENTS_RECEIVERS
      ? eventsConfigOf({
          receivers: parseEventReceivers(e.SCIM_EVENTS_RECEIVERS),
          signingKey: jsonOf(e.SCIM_EVENTS_SIGNING_KEY) as Record<string, unknown> | undefined,
          previousPublicKeys: (jsonOf(e.SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS) as Record<string, unknown>[]) ?? [],
          keyFile: e.SCIM_EVENTS_KEY_FILE,
          outboxMax: e.SCIM_EVENTS_OUTBOX_MAX,
          leaseSeconds: e.SCIM_EVENTS_LEASE_SECONDS,
          maxWaitSeconds: e.SCIM_EVENTS_MAX_WAIT_SECONDS,
          push: listOf(e.SCIM_EVENTS_PUSH).map((entry) => ({
            receiver: entry.slice(0, entry.indexOf('=')),
            url: entry.slice(entry.indexOf('=') + 1),
          })),
          deadLetterSeconds: e.SCIM_EVENTS_DEAD_LETTER_SECONDS,
        })
      : undefined,
  };
}
