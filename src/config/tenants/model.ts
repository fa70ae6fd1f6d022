import type { BearerToken, Config } from '../environment';

// Several Kit accounts behind one server. A tenant is one Kit account and the credentials that may
// reach it; everything else (port, Redis, logging, proxies) belongs to the process.

/** The tenant the environment alone describes (no TENANTS_FILE): one tenant, `default`. */
export const DEFAULT_TENANT_ID = 'default';

/** A tenant id is a path segment (`/tenants/{id}/scim/v2`) and a label value: short, lower-case, URL-safe. */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;

export interface TenantConfig {
  id: string;
  /**
   * The whole configuration this tenant runs with: the process-wide settings read from the environment, with
   * the tenant's own `kit` (credentials, budget, base URL), `scim` (bearer tokens, JWT, group tag prefix,
   * mapping), `changes.webhookSecret` (derived from its Kit credential) and `events` in place. Existing parts
   * that take a Config take this one.
   */
  config: Config;
  /**
   * The entry asked for the built-in Kit sandbox (`kit: {sandbox: true}`), or is the environment's tenant the
   * sandbox serves: main.ts opens an account for it.
   */
  sandbox?: boolean;
}

export interface TenantsConfig {
  /** Where the tenants came from: a file (reloaded on SIGHUP) or the environment (one tenant, `default`). */
  source: { kind: 'file'; path: string } | { kind: 'environment' };
  tenants: TenantConfig[];
  /**
   * Credentials for what spans tenants (`/metrics` of every tenant). From the file's `operators` section;
   * with the environment alone, the tenant's own tokens are the operator's too.
   */
  operatorTokens: BearerToken[];
}
