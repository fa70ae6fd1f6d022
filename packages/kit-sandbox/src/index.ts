import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AccountDirectory } from './accountDirectory';
import type { CallStats } from './callLog';
import type { Clock } from './clock';
import { KitCredentials } from './credentials';
import { FaultInjector, type Faults } from './faults';
import { HostedAccount } from './hostedAccount';
import { OAuthAuthority, type OAuthOptions } from './oauth';
import { readSnapshot, SnapshotWriter } from './persistence';
import { DEFAULT_RATE_LIMIT, type RateLimit } from './rateWindow';
import { adminRoutes } from './routes/admin';
import { oauthTokenRoutes } from './routes/oauthToken';
import { type SeedPlan, type SeedReport, seedAccount } from './seedPlan';
import { createSandboxServer } from './server';
import { type SandboxSnapshot, SNAPSHOT_VERSION, type StoreSnapshot } from './snapshot';
import { SandboxStore } from './store';
import type { WebhookDelivery } from './webhookDelivery';
import { V3Credentials } from './v3/auth';

// A local stand-in for Kit's v4 API (api.convertkit.com), for tests, benchmarks and `npm start` without a Kit
// account. It behaves as Kit's reference and the integration notes describe, traps included. One sandbox can
// host several accounts (createAccount), told apart by their keys as Kit does at its one base URL.

export type { CallRecord, CallStats } from './callLog';
export type { Faults } from './faults';
export { seededRandom } from './faults';
export type { RateLimit } from './rateWindow';
export type { SeedPlan, SeedReport } from './seedPlan';
export type { NewSubscriber, SeedOptions, SeedResult, StoreCounts } from './store';
export { SandboxStore };

/** The account every sandbox starts with: `apiKey`, `store`, `calls()`, OAuth and the admin routes are its. */
export const DEFAULT_ACCOUNT_ID = 1;

export interface SandboxAccountOptions {
  /** Default 'kit_sandbox_' + random hex. Must differ from every other account's key and secret. */
  apiKey?: string;
  /** Kit v3's api_secret; default 'kit_secret_' + random hex. */
  apiSecret?: string;
  /** Default: the sandbox's `rateLimit` option (Kit's 120 per 60 s when none was given). */
  rateLimit?: RateLimit;
}

/** One Kit account on the sandbox: separate data, keys, rolling rate window and call log. */
export interface SandboxAccount {
  id: number;
  /** v4 X-Kit-Api-Key; also this account's v3 api_key. */
  apiKey: string;
  /** v3 api_secret. */
  apiSecret: string;
  store: SandboxStore;
  /** Calls made with this account's credentials (refused ones of a revoked key included). */
  calls(): CallStats;
  resetCalls(): void;
  /** This account's rolling window; calls already in it are kept. */
  setRateLimit(r: RateLimit): void;
  seed(plan: SeedPlan): SeedReport;
  webhooks: Pick<WebhookDelivery, 'log' | 'dropDeliveries' | 'idle' | 'setOrder'>;
  /** Revokes the API key and the v3 secret: both answer Kit's 401, as unknown credentials do. */
  revoke(): void;
  restore(): void;
}

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
   * Kit's v4 reference answers an unsubscribe with a bare 204 ('noContent', the default); the integration notes
   * show 200 with the subscriber ('subscriber'). Clients must handle both.
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

/** The sandbox; `apiKey`, `apiSecret`, `store`, `calls()`, rate limit, OAuth, seed and webhooks are the default account's. */
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
  /** Resolves when every account's queued (> 100 item) bulk requests have been applied and callbacks attempted. */
  bulkIdle(): Promise<void>;
  /**
   * The default account's webhook deliveries: their log, losing them on purpose, waiting for those in flight,
   * and their order against the answer of the API call that caused them (webhookDelivery.ts).
   */
  webhooks: Pick<WebhookDelivery, 'log' | 'dropDeliveries' | 'idle' | 'setOrder'>;
  /** The account `apiKey`, `store` and `calls()` above belong to (id DEFAULT_ACCOUNT_ID). */
  defaultAccount: SandboxAccount;
  /** Hosts one more account at the same URL. Throws when the key or secret is already in use. */
  createAccount(opts?: SandboxAccountOptions): SandboxAccount;
  /** Every account, the default one first. */
  accounts(): SandboxAccount[];
  /** From now on the API key or v3 secret (of any account) answers Kit's 401, as an unknown one does. */
  revokeKey(credential: string): void;
  restoreKey(credential: string): void;
  close(): Promise<void>;
}

export async function startKitSandbox(opts: KitSandboxOptions = {}): Promise<KitSandbox> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const snapshot = opts.dataFile ? await readSnapshot(opts.dataFile) : null;
  const apiKey = opts.apiKey ?? snapshot?.apiKey ?? newApiKey();
  const rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT;

  let writer: SnapshotWriter | null = null;
  const persist = () => writer?.schedule();

  const store = new SandboxStore(now);
  if (snapshot) store.loadSnapshot(snapshot.store);
  const oauth = opts.oauth ? new OAuthAuthority(opts.oauth, now, persist) : null;
  if (oauth && snapshot?.oauth) oauth.loadSnapshot(snapshot.oauth);

  const tokenRoutes = oauthTokenRoutes(oauth);
  const hostedAccount = (id: number, key: string, secret: string, accountStore: SandboxStore, limit: RateLimit) =>
    new HostedAccount({
      id,
      apiKey: key,
      apiSecret: secret,
      store: accountStore,
      rateLimit: limit,
      now,
      unsubscribeAnswer: opts.unsubscribeAnswer,
      webhookRetryDelaysMs: opts.webhookRetryDelaysMs,
      v3UpdateDelayMs: opts.v3UpdateDelayMs,
      extraRoutes: id === DEFAULT_ACCOUNT_ID ? tokenRoutes : undefined,
    });

  const directory = new AccountDirectory();
  const main = hostedAccount(DEFAULT_ACCOUNT_ID, apiKey, opts.apiSecret ?? newApiSecret(), store, rateLimit);
  directory.add(main);

  /** Adds an account with its own data, keys, rate window and call log. */
  const addAccount = (o: SandboxAccountOptions, id: number, restored?: StoreSnapshot): HostedAccount => {
    const accountStore = new SandboxStore(now, {
      id,
      name: `Kit Sandbox ${id}`,
      primary_email_address: `owner+${id}@kit-sandbox.test`,
    });
    if (restored) accountStore.loadSnapshot(restored);
    const account = hostedAccount(id, o.apiKey ?? newApiKey(), o.apiSecret ?? newApiSecret(), accountStore, {
      ...(o.rateLimit ?? rateLimit),
    });
    directory.add(account);
    accountStore.onChange(persist);
    persist();
    return account;
  };
  for (const saved of snapshot?.accounts ?? []) addAccount(saved, saved.id, saved.store);
  let nextAccountId = Math.max(DEFAULT_ACCOUNT_ID, ...directory.all().map((a) => a.id)) + 1;
  const createAccount = (o: SandboxAccountOptions = {}): HostedAccount => addAccount(o, nextAccountId++);

  if (opts.dataFile) {
    const capture = (): SandboxSnapshot => ({
      version: SNAPSHOT_VERSION,
      savedAt: new Date(now()).toISOString(),
      apiKey,
      store: store.toSnapshot(),
      oauth: oauth?.toSnapshot(),
      accounts: directory
        .all()
        .filter((a) => a !== main)
        .map((a) => ({ id: a.id, apiKey: a.apiKey, apiSecret: a.apiSecret, store: a.store.toSnapshot() })),
    });
    writer = new SnapshotWriter(opts.dataFile, capture);
    store.onChange(persist);
  }

  const faults = new FaultInjector();
  const server = createSandboxServer({
    kitRoutes: main.routes,
    openEndpoints: new Set(tokenRoutes.map((r) => `${r.method} ${r.pattern}`)),
    adminRoutes: adminRoutes({
      store,
      calls: main.calls,
      faults,
      rateWindow: main.rateWindow,
      oauth,
      bulk: main.bulk,
      accounts: { directory, create: createAccount },
    }),
    adminKey: apiKey,
    credentials: new KitCredentials(directory, oauth, main),
    defaultAccount: main,
    faults,
    now,
    sleep: opts.sleep,
    reportError: opts.reportError,
    v3: { credentials: new V3Credentials(directory) },
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
      await Promise.all(directory.all().map((a) => a.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await writer?.flush();
    })();
    return closing;
  };

  const views = new Map<HostedAccount, SandboxAccount>();
  const view = (account: HostedAccount): SandboxAccount => {
    let v = views.get(account);
    if (!v) {
      v = sandboxAccount(account, directory);
      views.set(account, v);
    }
    return v;
  };

  return {
    url,
    apiKey,
    apiSecret: main.apiSecret,
    store,
    calls: () => main.calls.stats(),
    resetCalls: () => main.calls.reset(),
    setFaults: (f) => {
      faults.set(f);
    },
    resetFaults: () => faults.reset(),
    faults: () => faults.current(),
    setRateLimit: (r) => main.rateWindow.setLimit(r),
    expireAccessTokens: () => {
      if (!oauth) throw new Error('expireAccessTokens: the sandbox was started without `oauth`');
      oauth.expireAccessTokens();
    },
    oauthTokens: () => oauth?.latest(),
    seed: (plan) => seedAccount(store, plan),
    bulkIdle: async () => {
      await Promise.all(directory.all().map((a) => a.bulk.idle()));
    },
    webhooks: webhookControls(main),
    defaultAccount: view(main),
    createAccount: (o) => view(createAccount(o)),
    accounts: () => directory.all().map(view),
    revokeKey: (credential) => directory.revoke(credential),
    restoreKey: (credential) => directory.restore(credential),
    close,
  };
}

function newApiKey(): string {
  return `kit_sandbox_${randomBytes(16).toString('hex')}`;
}

function newApiSecret(): string {
  return `kit_secret_${randomBytes(16).toString('hex')}`;
}

function webhookControls(account: HostedAccount): KitSandbox['webhooks'] {
  return {
    log: account.webhooks.log,
    dropDeliveries: (drop) => account.webhooks.dropDeliveries(drop),
    idle: () => account.webhooks.idle(),
    setOrder: (order) => account.webhooks.setOrder(order),
  };
}

function sandboxAccount(account: HostedAccount, directory: AccountDirectory): SandboxAccount {
  return {
    id: account.id,
    apiKey: account.apiKey,
    apiSecret: account.apiSecret,
    store: account.store,
    calls: () => account.calls.stats(),
    resetCalls: () => account.calls.reset(),
    setRateLimit: (r) => account.rateWindow.setLimit(r),
    seed: (plan) => seedAccount(account.store, plan),
    webhooks: webhookControls(account),
    revoke: () => {
      directory.revoke(account.apiKey);
      directory.revoke(account.apiSecret);
    },
    restore: () => {
      directory.restore(account.apiKey);
      directory.restore(account.apiSecret);
    },
  };
}
