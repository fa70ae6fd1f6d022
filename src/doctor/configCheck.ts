import type { Config, KitCredentials } from '../config/environment';
import type { TenantConfig } from '../config/tenants/model';
import type { CheckStatus } from './checks';

// Whether one configuration (the environment's, or one tenant's) can be checked against Kit, and what it is.

export type ConfigVerdict =
  | {
      status: 'pass';
      result: string;
      /** The Kit credential the account checks use: v3 secrets are refused above. */
      credentials: Exclude<KitCredentials, { kind: 'v3Secret' }>;
    }
  | { status: Exclude<CheckStatus, 'pass'>; result: string; fix?: string; skipReason: string };

export function configVerdict(config: Config): ConfigVerdict {
  const credentials = config.kit.credentials;
  if (!credentials)
    return {
      status: 'fail',
      result: 'no Kit credentials: the server would start the built-in Kit sandbox, not talk to Kit',
      fix: 'Set KIT_API_KEY (Kit → Settings → Developer → API keys, v4) or the KIT_ACCESS_TOKEN/KIT_REFRESH_TOKEN/KIT_CLIENT_ID/KIT_CLIENT_SECRET set.',
      skipReason: 'not run: no Kit credentials',
    };
  if (credentials.kind === 'v3Secret')
    // Its checks speak Kit v4; a v4 call with a v3 secret would report the secret as refused, which is false.
    return {
      status: 'fail',
      result: 'doctor does not check Kit v3 accounts yet (KIT_API_VERSION=v3)',
      fix: 'Start the server and watch /readyz: it turns green once Kit v3 accepts the secret and the reserved fields and tags exist.',
      skipReason: 'not run: Kit v3',
    };
  if (config.scim.bearerTokens.length === 0 && !config.scim.jwt)
    return {
      status: 'fail',
      result: 'no way for the IdP to authenticate: neither SCIM_BEARER_TOKENS nor SCIM_JWT_JWKS_URL is set',
      fix: 'Set SCIM_BEARER_TOKENS="okta=$(openssl rand -hex 32)" (or the SCIM_JWT_* variables).',
      skipReason: 'not run: the configuration is incomplete',
    };
  return {
    status: 'pass',
    credentials,
    result:
      `valid; Kit ${config.kit.baseUrl} with ${credentials.kind === 'apiKey' ? 'an API key' : 'OAuth'}, ` +
      `${config.scim.bearerTokens.length} SCIM token(s)${config.scim.jwt ? ' and JWTs' : ''}, ` +
      `budget ${config.kit.ratePerMinute} calls per ${config.kit.rateWindowMs / 1000} s`,
  };
}

/** A tenant of a tenants file: a sandbox one has no Kit account to check, which is not a failure. */
export function tenantVerdict(tenant: TenantConfig): ConfigVerdict {
  if (tenant.sandbox)
    return {
      status: 'skip',
      result: 'a sandbox tenant (kit: sandbox: true): the built-in Kit sandbox, nothing to check in Kit',
      skipReason: 'not run: a sandbox tenant',
    };
  return configVerdict(tenant.config);
}
