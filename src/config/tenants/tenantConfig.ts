import path from 'node:path';
import { type Config, derivedWebhookSecret } from '../environment';
import { TENANT_FILE_SETTINGS, tenantFileProblems } from '../writtenFiles';
import { MappingFileError } from '../mapping/mappingFile';
import { loadMapping } from '../mapping/mappingSource';
import type { AttributeMapping } from '../mapping/model';
import type { KitSettings } from '../settings';
import { bearerTokensOf, credentialsOf, eventsConfigOf, jwtOf, tokenStoreOf } from '../tenantParts';
import type { Path } from './envInterpolation';
import type { TenantConfig } from './model';
import type { FileTenant } from './tenantsFileSchema';

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

/** A tenant's Kit base URL, without trailing slashes (as loadConfig keeps KIT_API_URL). */
export function baseUrlOf(kit: KitSettings, defaults: KitDefaults): string {
  return (kit.baseUrl ?? defaults.baseUrl).replace(/\/+$/, '');
}

/**
 * Where a tenant's rotated OAuth tokens are kept by default: its own file, so two tenants never overwrite each
 * other's pair. Under the data directory (DATA_DIR), as KIT_TOKEN_STORE, never beside the tenants file (it may
 * sit on a read-only mount; the store is written).
 */
export function tenantTokenStoreOf(kit: KitSettings, id: string, dataDir: string): string {
  return tokenStoreOf(kit, `.kit-tokens-${id}.json`, dataDir);
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

/** The tenant at `index` of the file; problems go to ctx.report under `tenants.<index>`. */
export function tenantConfigOf(t: FileTenant, index: number, ctx: TenantBuildContext): TenantConfig {
  const { base } = ctx;
  const at = (p: Path, message: string) => ctx.report(['tenants', index, ...p], message);
  const baseUrl = baseUrlOf(t.kit, base.kit);
  const credentials = credentialsOf(t.kit, tenantTokenStoreOf(t.kit, t.id, base.dataDir), base.dataDir);
  if (t.kit.sandbox && base.sandboxMode === 'off')
    at(['kit', 'sandbox'], 'KIT_SANDBOX=off rules out the built-in sandbox: give this tenant a Kit credential');
  const mapping = mappingOf(t, at, ctx.file);
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
      bearerTokens: bearerTokensOf(t),
      jwt: jwtOf(t.jwt, base.scim.jwtDefaults),
      groupTagPrefix: t.groupTagPrefix,
      mapping: mapping?.mapping ?? base.scim.mapping,
      mappingFile: mapping?.mappingFile,
      // Beside the mapping it is about: each tenant's own, never the environment's.
      unmappedAttributes: t.unmappedAttributes ?? 'ignore',
    },
    changes: {
      ...base.changes,
      // With the tenant id in it: two tenants on one Kit account still get two receivers.
      webhookSecret: base.changes.webhooks ? derivedWebhookSecret(credentials, baseUrl, t.id) : undefined,
    },
    // Its own key per tenant: a receiver trusts one tenant's issuer, never another's signature.
    events: t.events ? eventsConfigOf(t.events, `.scim-events-key-${t.id}.json`, base.dataDir) : undefined,
  };
  // Each written file is checked where the entry sets it (or would): the line says which tenant.
  for (const { file, problem } of tenantFileProblems(config)) at(TENANT_FILE_SETTINGS[file], problem);
  return { id: t.id, config, ...(t.kit.sandbox ? { sandbox: true } : {}) };
}
