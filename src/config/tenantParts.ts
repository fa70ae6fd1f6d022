import { underDataDir } from './filePaths';
import type { KitCredentials } from './kitCredentials';
import type { EventsSettings, KitSettings, TenantSettings } from './settings';

// What a tenant's validated settings (settings.ts) make of the Config it runs with, whichever source they came
// from: its Kit credential, inbound tokens, JWT and security events. Where the sources differ (a default file
// name), the caller says.

export interface BearerToken {
  /** A name for logs and the audit trail; the token itself is never logged. */
  name: string;
  token: string;
  readOnly: boolean;
}

export interface JwtConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  algorithms: string[];
  clockSkewSeconds: number;
}

export type JwtDefaults = Pick<JwtConfig, 'algorithms' | 'clockSkewSeconds'>;

export interface EventReceiverConfig {
  name: string;
  audience: string;
  token: string;
}

/** SCIM security events (RFC 9967 SETs) for IGA receivers; present only when receivers are configured. */
export interface EventsConfig {
  receivers: EventReceiverConfig[];
  /** A private JWK; else one generated once, kept in Redis or in `keyFile`. */
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
  /** RFC 8935 push: receiver name → endpoint; the others poll. */
  push: Array<{ receiver: string; url: string }>;
  /** A pushed SET still undelivered this long after it was queued is dead-lettered. */
  deadLetterMs: number;
  /** Where SETs made while Redis is away wait for it; undefined: in memory. */
  spoolDir?: string;
  /** SETs the spool holds at most. */
  spoolMax: number;
}

/**
 * Where rotated OAuth tokens are kept: the tenant's `tokenStore`, else the source's default; a file named
 * relative is under the data directory (DATA_DIR), `redis` is Redis.
 */
export function tokenStoreOf(kit: KitSettings, defaultStore: string, dataDir: string): string {
  const store = kit.oauth?.tokenStore ?? defaultStore;
  return store === 'redis' ? store : underDataDir(dataDir, store);
}

export function credentialsOf(
  kit: KitSettings,
  defaultTokenStore: string,
  dataDir: string,
): KitCredentials | undefined {
  if (kit.apiSecret !== undefined) return { kind: 'v3Secret', apiSecret: kit.apiSecret };
  if (kit.apiKey !== undefined) return { kind: 'apiKey', apiKey: kit.apiKey };
  if (kit.oauth)
    return {
      kind: 'oauth',
      accessToken: kit.oauth.accessToken,
      refreshToken: kit.oauth.refreshToken,
      clientId: kit.oauth.clientId,
      clientSecret: kit.oauth.clientSecret,
      tokenStorePath: tokenStoreOf(kit, defaultTokenStore, dataDir),
    };
  return undefined;
}

export function bearerTokensOf(t: Pick<TenantSettings, 'bearerTokens' | 'readOnlyBearerTokens'>): BearerToken[] {
  return [
    ...t.bearerTokens.map((b) => ({ name: b.name, token: b.token, readOnly: false })),
    ...t.readOnlyBearerTokens.map((b) => ({ name: b.name, token: b.token, readOnly: true })),
  ];
}

/** Algorithms and clock skew left out are the process's (SCIM_JWT_ALGORITHMS, SCIM_JWT_CLOCK_SKEW_SECONDS). */
export function jwtOf(jwt: TenantSettings['jwt'], defaults: JwtDefaults): JwtConfig | undefined {
  if (!jwt) return undefined;
  return {
    jwksUrl: jwt.jwksUrl,
    issuer: jwt.issuer,
    audience: jwt.audience,
    algorithms: jwt.algorithms ?? defaults.algorithms,
    clockSkewSeconds: jwt.clockSkewSeconds ?? defaults.clockSkewSeconds,
  };
}

/** A key file named relative (or the source's default) is under the data directory (DATA_DIR). */
export function eventsConfigOf(e: EventsSettings, defaultKeyFile: string, dataDir: string): EventsConfig {
  return {
    receivers: e.receivers.map((r) => ({ name: r.name, token: r.token, audience: r.audience ?? r.name })),
    signingKey: e.signingKey,
    previousPublicKeys: e.previousPublicKeys,
    keyFile: underDataDir(dataDir, e.keyFile ?? defaultKeyFile),
    outboxMax: e.outboxMax,
    leaseMs: e.leaseSeconds * 1000,
    maxWaitMs: e.maxWaitSeconds * 1000,
    maxEventsPerPoll: 1000,
    push: e.push.map((p) => ({ receiver: p.receiver, url: p.url })),
    deadLetterMs: e.deadLetterSeconds * 1000,
    spoolDir: e.spoolDir,
    spoolMax: e.spoolMax,
  };
}
