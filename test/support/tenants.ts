import pino from 'pino';
import request from 'supertest';
import { type Config, loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import type { TenantConfig, TenantsConfig } from '../../src/config/tenants/model';
import type { FailureThrottleOptions } from '../../src/platform/failureThrottle';

// Several Kit accounts behind one Service: each tenant's Config is loaded from its own environment,
// as the tenants file's loader builds them (the process settings shared, the Kit credential and SCIM tokens
// the tenant's own).

export const OPERATOR_TOKEN = 'operator-token-0123456789abcdef01234567';

/** The SCIM bearer token of tenant `id` (long enough for the config's checks, distinct per tenant). */
export const tokenOf = (id: string, generation = 0): string => `tenant-${id}-token-${generation}-0123456789abcdef0123`;

export function sandboxFor(): Promise<KitSandbox> {
  // Generous, so functional tests never wait on the sandbox's window.
  return startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
}

/** The settings every test tenant and the process share; `env` adds or overrides. */
function baseEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
    KIT_TIMEOUT_MS: '3000',
    // Kit's budget of 120 calls over a short window, so functional tests never wait on the limiter.
    KIT_RATE_WINDOW_MS: '200',
    ...env,
  };
}

export interface TenantOptions {
  /** The Kit key the tenant is configured with; the sandbox's own by default. */
  kitKey?: string;
  /** Which generation of its token the tenant accepts (a rotation is a new generation). */
  tokenGeneration?: number;
  env?: Record<string, string>;
}

export function tenantConfig(id: string, sandbox: KitSandbox, opts: TenantOptions = {}): TenantConfig {
  const config = loadConfig(
    baseEnv({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: opts.kitKey ?? sandbox.apiKey,
      SCIM_BEARER_TOKENS: `okta-${id}=${tokenOf(id, opts.tokenGeneration)}`,
      ...opts.env,
    }),
  );
  return { id, config };
}

export function tenantsConfig(tenants: TenantConfig[]): TenantsConfig {
  return {
    source: { kind: 'file', path: 'tenants.test.yaml' },
    tenants,
    operatorTokens: [{ name: 'operator', token: OPERATOR_TOKEN, readOnly: true }],
  };
}

/** The process's own settings (audit log, shutdown...); any tenant's Kit settings would do, they are unused. */
export function processConfig(sandbox: KitSandbox, env: Record<string, string> = {}): Config {
  return loadConfig(baseEnv({ KIT_API_URL: sandbox.url, KIT_API_KEY: sandbox.apiKey, ...env }));
}

export async function startTenants(
  tenants: TenantConfig[],
  process: Config,
  failureThrottle?: FailureThrottleOptions,
): Promise<{ service: Service; close(): Promise<void> }> {
  const service = new Service({
    config: process,
    tenants: tenantsConfig(tenants),
    logger: pino({ level: 'silent' }),
    failureThrottle,
  });
  await service.bootstrap();
  return { service, close: () => service.close() };
}

/**
 * supertest against `service` with `token`; `from` is the client address as a trusted proxy reports it
 * (TRUST_PROXY), so tests of refusals can keep each client under the failure throttle's threshold.
 */
export function client(service: Service, token: string, from?: string) {
  const auth = (t: request.Test) => {
    t.set('Authorization', `Bearer ${token}`);
    return from === undefined ? t : t.set('X-Forwarded-For', from);
  };
  const json = (t: request.Test, body: unknown) =>
    body === undefined ? t : t.set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  return {
    get: (p: string) => auth(request(service.app).get(p)),
    post: (p: string, b?: unknown) => json(auth(request(service.app).post(p)), b),
    put: (p: string, b?: unknown) => json(auth(request(service.app).put(p)), b),
    patch: (p: string, b?: unknown) => json(auth(request(service.app).patch(p)), b),
    del: (p: string) => auth(request(service.app).delete(p)),
  };
}
