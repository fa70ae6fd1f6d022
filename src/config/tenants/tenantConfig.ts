import path from 'node:path';
import {
  type Config,
  derivedWebhookSecret,
  type EventsConfig,
  eventsConfigOf,
  jsonOf,
  type JwtConfig,
  type KitCredentials,
} from '../environment';
import { MappingFileError } from '../mapping/mappingFile';
import { loadMapping } from '../mapping/mappingSource';
import type { AttributeMapping } from '../mapping/model';
import type { Path } from './envInterpolation';
import type { TenantConfig } from './model';
import type { FileEvents, FileKit, FileTenant } from './tenantsFileSchema';

// One entry of a tenants file made into the full Config its tenant runs with: the process-wide settings of the
// environment (`base`), with the tenant's Kit account, inbound credentials, mapping and events in place.

export interface TenantBuildContext {
  /** loadConfig(env): the process-wide settings every tenant shares. */
  base: Config;
  /** The tenants file's path: mapping files are named relative to its directory. */
  file: string;
  report: (path: Path, message: string) => void;
}

/** What a tenant gets when its entry leaves a Kit setting out (KIT_API_URL, KIT_RATE_LIMIT_PER_MINUTE). */
export interface KitDefaults {
  baseUrl: string;
  ratePerMinute: number;
}

/** A tenant's Kit base URL, without trailing slashes (as config.ts keeps KIT_API_URL). */
export function baseUrlOf(kit: FileKit, defaults: KitDefaults): string {
  return (kit.baseUrl ?? defaults.baseUrl).replace(/\/+$/, '');
}

/**
 * Where a tenant's rotated OAuth tokens are kept: its own file by default, so two tenants never overwrite each
 * other's pair. Relative to the working directory, as KIT_TOKEN_STORE (the tenants file may sit on a read-only
 * mount; the store is written).
 */
export function tokenStoreOf(kit: FileKit, id: string): string {
  return kit.oauth?.tokenStore ?? `.kit-tokens-${id}.json`;
}

function credentialsOf(kit: FileKit, id: string): KitCredentials | undefined {
  if (kit.apiSecret !== undefined) return { kind: 'v3Secret', apiSecret: kit.apiSecret };
  if (kit.apiKey !== undefined) return { kind: 'apiKey', apiKey: kit.apiKey };
  if (kit.oauth)
    return {
      kind: 'oauth',
      accessToken: kit.oauth.accessToken,
      refreshToken: kit.oauth.refreshToken,
      clientId: kit.oauth.clientId,
      clientSecret: kit.oauth.clientSecret,
      tokenStorePath: tokenStoreOf(kit, id),
    };
  return undefined;
}

/** A tenant's JWT settings; algorithms and clock skew default to the environment's (config.ts jwtDefaults). */
function jwtOf(t: FileTenant, base: Config): JwtConfig | undefined {
  if (!t.jwt) return undefined;
  const defaults = base.scim.jwtDefaults;
  return {
    jwksUrl: t.jwt.jwksUrl,
    issuer: t.jwt.issuer,
    audience: t.jwt.audience,
    algorithms: t.jwt.algorithms ?? defaults.algorithms,
    clockSkewSeconds: t.jwt.clockSkewSeconds ?? defaults.clockSkewSeconds,
  };
}

function mappingOf(
  t: FileTenant,
  at: (p: Path, m: string) => void,
  file: string,
): { mapping: AttributeMapping; mappingFile?: string } | undefined {
  const mappingFile =
    t.mappingFile === undefined
      ? undefined
      : path.isAbsolute(t.mappingFile)
        ? t.mappingFile
        : path.join(path.dirname(file), t.mappingFile);
  try {
    return { mapping: loadMapping(mappingFile), mappingFile };
  } catch (err) {
    if (!(err instanceof MappingFileError)) throw err;
    // Each mapping problem already names the mapping file and its line.
    for (const problem of err.problems) at(['mappingFile'], problem);
    return undefined;
  }
}

function eventsOf(e: FileEvents, id: string, base: Config, at: (p: Path, m: string) => void): EventsConfig | undefined {
  if (!base.publicUrls.baseUrl) at(['receivers'], 'security events need PUBLIC_BASE_URL (their issuer, "iss")');
  const key = jsonOf(e.signingKey) as { d?: unknown } | null | undefined;
  if (key !== undefined && (key === null || typeof key !== 'object' || Array.isArray(key) || typeof key.d !== 'string'))
    at(['signingKey'], 'must be a private JWK (JSON with "kty" and "d")');
  const previous = jsonOf(e.previousPublicKeys) ?? [];
  if (!Array.isArray(previous) || previous.some((k) => typeof k !== 'object' || k === null || 'd' in k))
    at(['previousPublicKeys'], 'must be a list of public JWKs (no "d")');
  return eventsConfigOf({
    receivers: e.receivers.map((r) => ({ name: r.name, token: r.token, audience: r.audience ?? r.name })),
    signingKey: key ?? undefined,
    previousPublicKeys: Array.isArray(previous) ? previous : [],
    // Its own key per tenant: a receiver trusts one tenant's issuer, never another's signature.
    keyFile: e.keyFile ?? `.scim-events-key-${id}.json`,
    outboxMax: e.outboxMax,
    leaseSeconds: e.leaseSeconds,
    maxWaitSeconds: e.maxWaitSeconds,
    push: e.push.map((p) => ({ receiver: p.receiver, url: p.url })),
    deadLetterSeconds: e.deadLetterSeconds,
  });
}

/** The tenant at `index` of the file; problems go to ctx.report under `tenants.<index>`. */
export function tenantConfigOf(t: FileTenant, index: number, ctx: TenantBuildContext): TenantConfig {
  const { base } = ctx;
  const at = (p: Path, message: string) => ctx.report(['tenants', index, ...p], message);
  const baseUrl = baseUrlOf(t.kit, base.kit);
  const credentials = credentialsOf(t.kit, t.id);
  if (t.kit.sandbox && base.sandboxMode === 'off')
    at(['kit', 'sandbox'], 'KIT_SANDBOX=off rules out the built-in sandbox: give this tenant a Kit credential');
  if (credentials?.kind === 'oauth' && credentials.tokenStorePath === 'redis' && !base.redisUrl)
    at(['kit', 'oauth', 'tokenStore'], 'tokenStore: redis needs REDIS_URL');
  const mapping = mappingOf(t, (p, m) => at(p, m), ctx.file);
  const events = t.events ? eventsOf(t.events, t.id, base, (p, m) => at(['events', ...p], m)) : undefined;
  const config: Config = {
    ...base,
    kit: {
      ...base.kit,
      baseUrl,
      credentials,
      apiVersion: t.kit.apiVersion ?? 'v4',
      ratePerMinute: t.kit.ratePerMinute ?? base.kit.ratePerMinute,
    },
    scim: {
      ...base.scim,
      bearerTokens: [
        ...t.bearerTokens.map((b) => ({ name: b.name, token: b.token, readOnly: false })),
        ...t.readOnlyBearerTokens.map((b) => ({ name: b.name, token: b.token, readOnly: true })),
      ],
      jwt: jwtOf(t, base),
      groupTagPrefix: t.groupTagPrefix,
      mapping: mapping?.mapping ?? base.scim.mapping,
      mappingFile: mapping?.mappingFile,
    },
    changes: {
      ...base.changes,
      // With the tenant id in it: two tenants on one Kit account still get two receivers.
      webhookSecret: base.changes.webhooks ? derivedWebhookSecret(credentials, baseUrl, t.id) : undefined,
    },
    events,
  };
  return { id: t.id, config, ...(t.kit.sandbox ? { sandbox: true } : {}) };
}
