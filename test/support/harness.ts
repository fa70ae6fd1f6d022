import type { Server } from 'node:http';
import pino, { type Logger } from 'pino';
import type { Clock } from '../../src/platform/clock';
import request from 'supertest';
import { type Config, loadConfig } from '../../src/config/environment';
import { type KitSandbox, type KitSandboxOptions, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import type { FailureThrottleOptions } from '../../src/platform/failureThrottle';
import { eventually } from './privateRedis';
import { freePort } from './serverProcess';

export const TOKEN = 'test-token-0123456789abcdef0123456789';
export const READONLY_TOKEN = 'readonly-token-0123456789abcdef01234567';

/** Which Kit API the server speaks to the sandbox: the end-to-end suites run over both (describe.each). */
export type Backend = 'v4' | 'v3';
export const BACKENDS: Backend[] = ['v4', 'v3'];

export interface Harness {
  backend: Backend;
  sandbox: KitSandbox;
  service: Service;
  config: Config;
  /** supertest against the app, already carrying the bearer token. */
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body?: unknown): request.Test;
  patch(path: string, body?: unknown): request.Test;
  del(path: string): request.Test;
  /** Kit calls made while `fn` ran, by endpoint (from the sandbox's own counters). */
  kitCalls<T>(fn: () => Promise<T>): Promise<{ result: T; total: number; byEndpoint: Record<string, number> }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Kit v4 (an API key in a header, the default) or Kit v3 (the api_secret as a parameter). */
  backend?: Backend;
  env?: Record<string, string>;
  /** The sandbox's rolling window; generous by default so functional tests never wait on it. */
  rateLimit?: { max: number; windowMs: number };
  /** The service's logger; silent by default. */
  logger?: Logger;
  /** The service's timers and time (limiter, mirror, webhook holds); the system clock by default. */
  clock?: Clock;
  /** More sandbox options (e.g. Kit's reference answers instead of the integration notes'). */
  sandbox?: Pick<KitSandboxOptions, 'unsubscribeAnswer' | 'webhookRetryDelaysMs' | 'v3UpdateDelayMs'>;
  /** The failed-authentication throttle's settings. */
  failureThrottle?: FailureThrottleOptions;
  /** A sandbox already running (a second replica, or a restart, of the same Kit account); not closed by close(). */
  kitSandbox?: KitSandbox;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const sandbox =
    opts.kitSandbox ??
    (await startKitSandbox({
      rateLimit: opts.rateLimit ?? { max: 100000, windowMs: 60000 },
      ...opts.sandbox,
    }));
  const backend = opts.backend ?? 'v4';
  const credentials =
    backend === 'v3' ? { KIT_API_VERSION: 'v3', KIT_API_SECRET: sandbox.apiSecret } : { KIT_API_KEY: sandbox.apiKey };
  const config = loadConfig({
    KIT_API_URL: sandbox.url,
    ...credentials,
    SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
    SCIM_READONLY_BEARER_TOKENS: `iga=${READONLY_TOKEN}`,
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
    KIT_TIMEOUT_MS: '3000',
    // Kit's budget of 120 calls, over a short window, so functional tests never wait on the limiter.
    KIT_RATE_WINDOW_MS: '200',
    ...opts.env,
  });
  const service = new Service({
    failureThrottle: opts.failureThrottle,
    config,
    logger: opts.logger ?? pino({ level: 'silent' }),
    clock: opts.clock,
  });
  await service.bootstrap();
  const app = service.app;
  const auth = (t: request.Test) => t.set('Authorization', `Bearer ${TOKEN}`);
  const json = (t: request.Test, body: unknown) =>
    body === undefined ? t : t.set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  return {
    backend,
    sandbox,
    service,
    config,
    get: (p) => auth(request(app).get(p)),
    post: (p, b) => json(auth(request(app).post(p)), b),
    put: (p, b) => json(auth(request(app).put(p)), b),
    patch: (p, b) => json(auth(request(app).patch(p)), b),
    del: (p) => auth(request(app).delete(p)),
    async kitCalls(fn) {
      sandbox.resetCalls();
      const result = await fn();
      const stats = sandbox.calls();
      return { result, total: stats.total, byEndpoint: stats.byEndpoint };
    },
    async close() {
      await service.close();
      if (!opts.kitSandbox) await sandbox.close();
    },
  };
}

export interface ListeningHarness {
  h: Harness;
  server: Server;
  /** The server's URL, also its PUBLIC_BASE_URL. */
  base: string;
}

/**
 * A harness whose server listens on a free loopback port, PUBLIC_BASE_URL pointing there, so the sandbox
 * delivers Kit webhooks to it; resolves once its webhooks are registered and the mirror has been walked.
 */
export async function startListeningHarness(opts: HarnessOptions = {}): Promise<ListeningHarness> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const h = await startHarness({ ...opts, env: { PUBLIC_BASE_URL: base, ...opts.env } });
  const server = await h.service.listen(port, '127.0.0.1');
  await eventually(() => h.sandbox.store.listWebhooks().length === 4);
  await eventually(() => h.service.scim().tracking.mirror!.complete());
  return { h, server, base };
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export function oktaUser(email: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA],
    userName: email,
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: 'Ada Lovelace',
    active: true,
    ...extra,
  };
}

export function patch(...ops: Array<Record<string, unknown>>) {
  return { schemas: [PATCH_SCHEMA], Operations: ops };
}
