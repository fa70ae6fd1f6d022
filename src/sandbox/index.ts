import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { BulkQueue } from './bulkQueue';
import { CallLog, type CallStats } from './callLog';
import type { Clock } from './clock';
import { KitCredentials } from './credentials';
import { FaultInjector, type Faults } from './faults';
import { OAuthAuthority, type OAuthOptions } from './oauth';
import { readSnapshot, SnapshotWriter } from './persistence';
import { DEFAULT_RATE_LIMIT, type RateLimit, RollingRateWindow } from './rateWindow';
import { accountRoutes } from './routes/account';
import { adminRoutes } from './routes/admin';
import { bulkRoutes } from './routes/bulk';
import type { RouteContext } from './routes/context';
import { customFieldRoutes } from './routes/customFields';
import { oauthTokenRoutes } from './routes/oauthToken';
import { subscriberRoutes } from './routes/subscribers';
import { tagRoutes } from './routes/tags';
import { webhookRoutes } from './routes/webhooks';
import { type SeedPlan, type SeedReport, seedAccount } from './seedPlan';
import { createSandboxServer } from './server';
import { type SandboxSnapshot, SNAPSHOT_VERSION } from './snapshot';
import { SandboxStore } from './store';
import { WebhookDelivery } from './webhookDelivery';
import { V3Credentials } from './v3/auth';
import { V3Routes } from './v3/routes';

// A local stand-in for Kit's v4 API (api.convertkit.com), for tests, benchmarks and `npm start` without a Kit
// account. It behaves as Kit's reference and the integration notes describe, traps included.

export type { CallRecord, CallStats } from './callLog';
export type { Faults } from './faults';
export type { RateLimit } from './rateWindow';
export type { SeedPlan, SeedReport } from './seedPlan';
export type { NewSubscriber, SeedOptions, SeedResult, StoreCounts } from './store';
export { SandboxStore };

export interface KitSandboxOptions {
  /** 0 = a random free port (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: the data file's key when there is one, else 'kit_sandbox_' + random hex. */
  apiKey?: string;
  oauth?: OAuthOptions;
  /** Default {max: 120, windowMs: 60000}, Kit's limit. */
  rateLimit?: RateLimit;
  /** Load the account at start, save it (debounced, and on close) to keep it across restarts. */
  dataFile?: string;
  now?: Clock;
  /**
   * Kit's reference answers an unsubscribe with a bare 204 ('noContent'); the integration notes show 200 with
   * the subscriber ('subscriber', the default). Clients must handle both.
   */
  unsubscribeAnswer?: 'subscriber' | 'noContent';
  /** How injected latency (setFaults({latencyMs})) waits; a real timer by default. */
  sleep?: (ms: number) => Promise<void>;
  /** Where handler failures are reported; console.error by default. A client that hung up is not one. */
  reportError?: (message: string, error: unknown) => void;
  /** Delays between webhook delivery attempts; default Kit's documented schedule (webhookDelivery.ts). */
  webhookRetryDelaysMs?: readonly number[];
  /** Kit v3's api_secret (default 'kit_secret_' + random hex); v3 also takes `apiKey` as its api_key. */
  apiSecret?: string;
  /** v3: how long a 202 update (11–140 fields) waits before it is applied; default 0 (by the next v3 call). */
  v3UpdateDelayMs?: number;
}

export interface KitSandbox {
  /** e.g. http://127.0.0.1:54321, no trailing slash: append Kit paths (url + '/v4/subscribers'). */
  url: string;
  apiKey: string;
  /** Kit v3's api_secret for this account (sent as a parameter, never a header). */
  apiSecret: string;
  store: SandboxStore;
  calls(): CallStats;
  resetCalls(): void;
  /** Merged into the current faults; resetFaults() clears them. */
  setFaults(f: Partial<Faults>): void;
  resetFaults(): void;
  faults(): Faults;
  setRateLimit(r: RateLimit): void;
  /** OAuth: every current access token answers 401 from now on, so a client must refresh. */
  expireAccessTokens(): void;
  /** OAuth: the most recently issued token pair; undefined without `oauth`. */
  oauthTokens(): { accessToken: string; refreshToken: string } | undefined;
  /** Same as POST /__sandbox/seed. */
  seed(plan: SeedPlan): SeedReport;
  /** Resolves when every queued (> 100 item) bulk request has been applied and its callback attempted. */
  bulkIdle(): Promise<void>;
  /** Webhook deliveries: their log, losing them on purpose, and waiting for the ones in flight. */
  webhooks: Pick<WebhookDelivery, 'log' | 'dropDeliveries' | 'idle'>;
  close(): Promise<void>;
}

export async function startKitSandbox(opts: KitSandboxOptions = {}): Promise<KitSandbox> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const snapshot = opts.dataFile ? await readSnapshot(opts.dataFile) : null;
  const apiKey = opts.apiKey ?? snapshot?.apiKey ?? `kit_sandbox_${randomBytes(16).toString('hex')}`;

  let writer: SnapshotWriter | null = null;
  const persist = () => writer?.schedule();

  const store = new SandboxStore(now);
  if (snapshot) store.loadSnapshot(snapshot.store);
  const oauth = opts.oauth ? new OAuthAuthority(opts.oauth, now, persist) : null;
  if (oauth && snapshot?.oauth) oauth.loadSnapshot(snapshot.oauth);

  if (opts.dataFile) {
    const capture = (): SandboxSnapshot => ({
      version: SNAPSHOT_VERSION,
      savedAt: new Date(now()).toISOString(),
      apiKey,
      store: store.toSnapshot(),
      oauth: oauth?.toSnapshot(),
    });
    writer = new SnapshotWriter(opts.dataFile, capture);
    store.onChange(persist);
  }

  const calls = new CallLog();
  const faults = new FaultInjector();
  const rateWindow = new RollingRateWindow(opts.rateLimit ?? DEFAULT_RATE_LIMIT, now);
  const bulk = new BulkQueue(now);
  const webhooks = new WebhookDelivery(store, { retryDelaysMs: opts.webhookRetryDelaysMs });
  const ctx: RouteContext = { store, bulk, now, unsubscribeAnswer: opts.unsubscribeAnswer };
  const tokenRoutes = oauthTokenRoutes(oauth);
  const apiSecret = opts.apiSecret ?? `kit_secret_${randomBytes(16).toString('hex')}`;
  const v3 = new V3Routes({ store, now, updateDelayMs: opts.v3UpdateDelayMs });

  const server = createSandboxServer({
    kitRoutes: [
      ...accountRoutes(ctx),
      ...subscriberRoutes(ctx),
      ...tagRoutes(ctx),
      ...customFieldRoutes(ctx),
      ...bulkRoutes(ctx),
      ...webhookRoutes(ctx),
      ...tokenRoutes,
      ...v3.routes(),
    ],
    openEndpoints: new Set(tokenRoutes.map((r) => `${r.method} ${r.pattern}`)),
    adminRoutes: adminRoutes({ store, calls, faults, rateWindow, oauth, bulk }),
    adminKey: apiKey,
    credentials: new KitCredentials(apiKey, oauth),
    rateWindow,
    faults,
    calls,
    now,
    sleep: opts.sleep,
    reportError: opts.reportError,
    v3: { credentials: new V3Credentials(apiSecret, apiKey), beforeHandle: () => v3.applyDue() },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await bulk.close();
      await webhooks.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await writer?.flush();
    })();
    return closing;
  };

  return {
    url,
    apiKey,
    apiSecret,
    store,
    calls: () => calls.stats(),
    resetCalls: () => calls.reset(),
    setFaults: (f) => {
      faults.set(f);
    },
    resetFaults: () => faults.reset(),
    faults: () => faults.current(),
    setRateLimit: (r) => rateWindow.setLimit(r),
    expireAccessTokens: () => {
      if (!oauth) throw new Error('expireAccessTokens: the sandbox was started without `oauth`');
      oauth.expireAccessTokens();
    },
    oauthTokens: () => oauth?.latest(),
    seed: (plan) => seedAccount(store, plan),
    bulkIdle: () => bulk.idle(),
    webhooks: {
      log: webhooks.log,
      dropDeliveries: (drop) => webhooks.dropDeliveries(drop),
      idle: () => webhooks.idle(),
    },
    close,
  };
}
