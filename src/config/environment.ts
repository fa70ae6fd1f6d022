import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { type Cidr, parseCidr } from './cidr';
import { pathProblem, underDataDir } from './filePaths';
import { listOf, readEnvironmentSettings } from './environmentSettings';
import type { KitCredentials } from './kitCredentials';
import { MappingFileError } from './mapping/mappingFile';
import { loadMapping } from './mapping/mappingSource';
import type { RedisTopology } from '../platform/redisTopology';
import { redisTopologyOf } from './redisSettings';
import type { AttributeMapping } from './mapping/model';
import {
  atMost,
  httpUrl,
  jwtAlgorithms,
  longSecret,
  MIN_BEARER_TOKEN_LENGTH,
  percentage,
  positiveWholeNumber,
  wholeNumber,
} from './settings';
import {
  type BearerToken,
  bearerTokensOf,
  credentialsOf,
  type EventsConfig,
  eventsConfigOf,
  type JwtConfig,
  type JwtDefaults,
  jwtOf,
} from './tenantParts';

// Read and validated once, in main.ts; everything below it receives the typed result. Nothing else reads
// process.env. The tenant's own settings (Kit account, inbound credentials, mapping, security events) are read
// by environmentSettings.ts into the schema a tenants file's entries share (settings.ts); what is left here is
// the process's.

export { MIN_BEARER_TOKEN_LENGTH };
export type { BearerToken, EventReceiverConfig, EventsConfig, JwtConfig, JwtDefaults } from './tenantParts';
export type { KitCredentials };

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

// A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port: what a Host header carries.
const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const DEFAULT_KIT_API_URL = 'https://api.convertkit.com';

/** The process's settings (the tenant's are environmentSettings.ts's). Messages are predicates: see problemOf. */
const processSchema = z
  .object({
    // 0: any free port, chosen when listening and logged in the "listening" line (tests, supervisors).
    PORT: wholeNumber.refine((n) => n <= 65535, 'must be at most 65535').default(8080),
    HOST: z.string().default('0.0.0.0'),
    KIT_RATE_WINDOW_MS: positiveWholeNumber.default(60000),
    KIT_MAX_WAIT_MS: positiveWholeNumber.default(25000),
    KIT_TIMEOUT_MS: positiveWholeNumber.default(15000),
    KIT_SANDBOX_PORT: positiveWholeNumber.optional(),
    // on: the built-in sandbox even where the environment says "deployment"; off: never; unset: see kitSandboxMode.
    KIT_SANDBOX: z.enum(['on', 'off']).optional(),
    // The defaults of tenants that leave them out (the environment's own, and a tenants file's entries).
    SCIM_JWT_ALGORITHMS: optionalString.transform((v) => listOf(v ?? 'RS256,ES256')).pipe(jwtAlgorithms),
    SCIM_JWT_CLOCK_SKEW_SECONDS: wholeNumber.default(60),
    SCIM_MAX_BODY_BYTES: positiveWholeNumber.default(1048576),
    FILTER_SCAN_BUDGET: positiveWholeNumber.default(10_000_000),
    TRUST_PROXY: optionalString,
    PUBLIC_BASE_URL: optionalString.pipe(
      httpUrl
        .refine((v) => {
          const u = new URL(v);
          return !u.search && !u.hash;
        }, 'must be a plain http(s) URL without query, fragment or credentials')
        .optional(),
    ),
    SCIM_ALLOWED_HOSTS: optionalString,
    SCIM_IP_ALLOWLIST: optionalString,
    // REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES and their credentials: redisSettings.ts.
    REDIS_COMMAND_TIMEOUT_MS: positiveWholeNumber.default(1000),
    REDIS_PROBE_INTERVAL_MS: positiveWholeNumber.default(1000),
    // Unset: 500 ms, or half the command timeout if that is shorter.
    REDIS_REPLICA_ACK_TIMEOUT_MS: positiveWholeNumber.optional(),
    // 0 = no fallback.
    KIT_LIMITER_FALLBACK_REPLICAS: wholeNumber.default(2),
    KIT_LIMITER_KEY_TTL_MS: positiveWholeNumber.default(86_400_000),
    PAGE_CACHE_MAX_ENTRIES: positiveWholeNumber.default(40),
    PAGE_CACHE_TTL_SECONDS: positiveWholeNumber.default(300),
    LOOKUP_SNAPSHOT_SECONDS: wholeNumber.default(10),
    JOURNAL_MAX_SUBSCRIBERS: positiveWholeNumber.default(200_000),
    MIRROR: z.enum(['on', 'lookups', 'off']).optional(),
    MIRROR_REFRESH_MINUTES: positiveWholeNumber.default(60),
    KIT_WEBHOOKS: z.enum(['on', 'off']).optional(),
    WEBHOOK_SILENCE_SECONDS: positiveWholeNumber.default(60),
    // A percentage of the tenant's Kit budget.
    WEBHOOK_REREAD_SHARE: percentage.default(10),
    KIT_WEBHOOK_SECRET: optionalString.pipe(
      longSecret.regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, - or _ (it is a URL path segment)').optional(),
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
    AUDIT_LOG: z.string().default('stdout'),
    // Where every file the server writes defaults (rotated OAuth tokens, generated event-signing keys, a relative
    // AUDIT_LOG): one place to make writable and to mount a volume on. `.`: the working directory.
    DATA_DIR: z
      .string()
      .default('.')
      .transform((v) => v.trim() || '.')
      .superRefine((dir, ctx) => {
        const problem = pathProblem(dir, 'directory');
        if (problem)
          ctx.addIssue({
            code: 'custom',
            message: `cannot use ${dir} as the data directory (${problem}); create it, or mount a writable volume there`,
          });
      }),
    SHUTDOWN_TIMEOUT_MS: positiveWholeNumber.default(9000),
    STATUS_SESSION_TTL_SECONDS: atMost(86_400, ' (a day)').default(900),
    // Several Kit accounts, each a tenant of a YAML file (tenants/tenantsFile.ts, docs/configuration/tenants.md
    // tenants"); read by loadTenants, not here.
    TENANTS_FILE: optionalString,
  })
  .superRefine((env, ctx) => {
    // WAIT must give up before the command does, or a missing replica reads as Redis itself being down.
    if (
      env.REDIS_REPLICA_ACK_TIMEOUT_MS !== undefined &&
      env.REDIS_REPLICA_ACK_TIMEOUT_MS >= env.REDIS_COMMAND_TIMEOUT_MS
    )
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_REPLICA_ACK_TIMEOUT_MS'],
        message: 'must be less than REDIS_COMMAND_TIMEOUT_MS',
      });
    if (env.KIT_SANDBOX === 'on' && env.TENANTS_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['KIT_SANDBOX'],
        message:
          "KIT_SANDBOX=on is for the environment's one tenant: with TENANTS_FILE give an entry kit: {sandbox: true}",
      });
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
  });

type Env = Record<string, string | undefined>;

/**
 * One problem of the environment, naming the variable and never its value (it may be a secret). A rule's
 * predicate ("must be at most 120") is said of the variable; a sentence of its own is prefixed with it.
 */
function problemOf(variable: string, message: string): string {
  const text = message.replace(/^Invalid input: /, '');
  return `${variable}: ${/^must /.test(text) ? `${variable} ${text}` : text}`;
}

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
     * SCIM_UNMAPPED_ATTRIBUTES: an RFC 7643 User attribute the mapping does not hold is left out of a write and
     * named in its audit record (`ignore`, the default), or refused with a 400 naming it (`refuse`).
     */
    unmappedAttributes: 'ignore' | 'refuse';
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
  /** The Redis every replica shares (standalone, sentinel or cluster); undefined: none, one replica. */
  redisTopology?: RedisTopology;
  redis: {
    /** No Redis command waits longer; past it the replica falls back (limiter) or serves uncached. */
    commandTimeoutMs: number;
    /** How often a PING checks Redis; a Redis that answers again is used again within this. */
    probeIntervalMs: number;
    /** Sentinel/cluster: how long a booked Kit slot or refresh lease waits for a replica's WAIT acknowledgement. */
    replicaAckTimeoutMs: number;
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
  /** Reuse of what was just read, and the journal of subscriber changes. */
  changes: {
    /** How long an IdP's lookup stands in for the read before its write; 0 = never. */
    lookupSnapshotSeconds: number;
    /** Subscribers whose latest change the journal keeps. */
    journalMaxSubscribers: number;
    /** The subscriber mirror (src/scim/mirror); on by default when webhooks are. */
    mirror: boolean;
    /**
     * MIRROR=lookups (the default without webhooks): the mirror is walked only when a filter Kit
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
  /** DATA_DIR: where files the server writes default, and where relative ones are placed. */
  dataDir: string;
  /** `stdout`, `off`, or a file (placed under dataDir when relative). */
  auditLog: string;
  shutdownTimeoutMs: number;
  /** The /status page: how long a login lasts. */
  status: { sessionTtlSeconds: number };
  /** SCIM security events; undefined when no receiver is configured. */
  events?: EventsConfig;
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
 * `tenant` keeps two tenants on one Kit account from deriving the same receiver path.
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

/** The built-in sandbox and a Kit account at once: which one is meant? From the raw environment. */
function sandboxBesideKitCredential(env: Env): string | undefined {
  if (env.KIT_SANDBOX?.trim() !== 'on' || !KIT_CREDENTIAL_VARIABLES.some((name) => env[name]?.trim())) return undefined;
  return 'KIT_SANDBOX: KIT_SANDBOX=on runs on the built-in sandbox, yet a Kit credential is set too: unset one of them';
}

export function loadConfig(env: Env): Config {
  const parsed = processSchema.safeParse(env);
  const redis = redisTopologyOf(env);
  const tenant = readEnvironmentSettings(env, {
    redis: !redis.ok || redis.topology !== undefined,
    publicBaseUrl: !!env.PUBLIC_BASE_URL?.trim(),
  });
  const sandboxProblems = [sandboxBesideKitCredential(env), missingKitCredential(env)].filter((p) => p !== undefined);
  if (!parsed.success || !tenant.ok || !redis.ok || sandboxProblems.length > 0) {
    throw new ConfigError([
      ...(parsed.error?.issues ?? []).map((i) => problemOf(String(i.path[0] ?? 'environment'), i.message)),
      ...(redis.ok ? [] : redis.problems.map((p) => problemOf(p.variable, p.message))),
      ...(tenant.ok ? [] : tenant.problems.map((p) => problemOf(p.variable, p.message))),
      ...sandboxProblems,
    ]);
  }
  const e = parsed.data;
  const t = tenant.settings;
  const baseUrl = t.kit.baseUrl ?? DEFAULT_KIT_API_URL;
  const dataDir = e.DATA_DIR;
  const credentials = credentialsOf(t.kit, '.kit-tokens.json', dataDir);
  const jwtDefaults: JwtDefaults = {
    algorithms: e.SCIM_JWT_ALGORITHMS,
    clockSkewSeconds: e.SCIM_JWT_CLOCK_SKEW_SECONDS,
  };
  const hooks = mirrorAndWebhooks(e.MIRROR, e.KIT_WEBHOOKS, e.PUBLIC_BASE_URL);
  return {
    port: e.PORT,
    host: e.HOST,
    kit: {
      baseUrl: baseUrl.replace(/\/+$/, ''),
      credentials,
      apiVersion: t.kit.apiVersion ?? 'v4',
      ratePerMinute: t.kit.ratePerMinute ?? 120,
      rateWindowMs: e.KIT_RATE_WINDOW_MS,
      maxWaitMs: e.KIT_MAX_WAIT_MS,
      timeoutMs: e.KIT_TIMEOUT_MS,
    },
    sandboxPort: e.KIT_SANDBOX_PORT,
    sandboxMode: e.KIT_SANDBOX ?? 'auto',
    scim: {
      bearerTokens: bearerTokensOf(t),
      jwt: jwtOf(t.jwt, jwtDefaults),
      jwtDefaults,
      maxBodyBytes: e.SCIM_MAX_BODY_BYTES,
      groupTagPrefix: t.groupTagPrefix,
      mapping: mappingOf(t.mappingFile),
      mappingFile: t.mappingFile,
      unmappedAttributes: t.unmappedAttributes ?? 'ignore',
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
    redisTopology: redis.topology,
    redis: {
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      probeIntervalMs: e.REDIS_PROBE_INTERVAL_MS,
      replicaAckTimeoutMs:
        e.REDIS_REPLICA_ACK_TIMEOUT_MS ?? Math.max(1, Math.min(500, Math.floor(e.REDIS_COMMAND_TIMEOUT_MS / 2))),
    },
    limiter: { fallbackReplicas: e.KIT_LIMITER_FALLBACK_REPLICAS, keyTtlMs: e.KIT_LIMITER_KEY_TTL_MS },
    pageCache: { maxEntries: e.PAGE_CACHE_MAX_ENTRIES, ttlSeconds: e.PAGE_CACHE_TTL_SECONDS },
    startup: STARTUP,
    changes: {
      lookupSnapshotSeconds: e.LOOKUP_SNAPSHOT_SECONDS,
      journalMaxSubscribers: e.JOURNAL_MAX_SUBSCRIBERS,
      ...hooks,
      mirrorRefreshMs: e.MIRROR_REFRESH_MINUTES * 60_000,
      webhookSilenceMs: e.WEBHOOK_SILENCE_SECONDS * 1000,
      webhookRereadSharePercent: e.WEBHOOK_REREAD_SHARE,
      webhookSecret: hooks.webhooks ? (e.KIT_WEBHOOK_SECRET ?? derivedWebhookSecret(credentials, baseUrl)) : undefined,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    dataDir,
    auditLog: e.AUDIT_LOG === 'stdout' || e.AUDIT_LOG === 'off' ? e.AUDIT_LOG : underDataDir(dataDir, e.AUDIT_LOG),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    status: { sessionTtlSeconds: e.STATUS_SESSION_TTL_SECONDS },
    // Only with receivers: the other SCIM_EVENTS_* alone describe no events to send.
    events: t.events?.receivers.length ? eventsConfigOf(t.events, '.scim-events-key.json', dataDir) : undefined,
  };
}
