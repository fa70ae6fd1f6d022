import { BulkQueue } from './bulkQueue';
import { CallLog } from './callLog';
import type { Clock } from './clock';
import { type RateLimit, RollingRateWindow } from './rateWindow';
import { accountRoutes } from './routes/account';
import { bulkRoutes } from './routes/bulk';
import type { RouteContext } from './routes/context';
import { customFieldRoutes } from './routes/customFields';
import { subscriberRoutes } from './routes/subscribers';
import { tagRoutes } from './routes/tags';
import { webhookRoutes } from './routes/webhooks';
import type { Route } from './router';
import type { SandboxStore } from './store';
import { V3Routes } from './v3/routes';
import { WebhookDelivery } from './webhookDelivery';

// One Kit account hosted by the sandbox: its data, and everything Kit keeps per account or per key — the
// rolling rate window, queued bulk jobs, webhook deliveries, v3's delayed updates — plus the sandbox's call log
// of what its credentials did. Real Kit serves every account at one base URL and tells them apart by the
// credential, so the server authenticates a call, finds the account, and runs that account's route.

export interface HostedAccountOptions {
  id: number;
  apiKey: string;
  /** Kit v3's api_secret; v3 takes `apiKey` as its api_key. */
  apiSecret: string;
  store: SandboxStore;
  rateLimit: RateLimit;
  now: Clock;
  unsubscribeAnswer?: 'subscriber' | 'noContent';
  webhookRetryDelaysMs?: readonly number[];
  v3UpdateDelayMs?: number;
  /** Routes only this account serves (the default account's /oauth/token). */
  extraRoutes?: Route[];
}

export class HostedAccount {
  readonly id: number;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly store: SandboxStore;
  readonly calls = new CallLog();
  readonly rateWindow: RollingRateWindow;
  readonly bulk: BulkQueue;
  readonly webhooks: WebhookDelivery;
  private readonly v3: V3Routes;
  /** By endpoint ("GET /v4/subscribers/:id"): the same patterns for every account, bound to this one's data. */
  private readonly routeByEndpoint: Map<string, Route>;
  /** In Router order, so the default account's list can also be the sandbox's route matcher. */
  readonly routes: Route[];

  constructor(opts: HostedAccountOptions) {
    this.id = opts.id;
    this.apiKey = opts.apiKey;
    this.apiSecret = opts.apiSecret;
    this.store = opts.store;
    this.rateWindow = new RollingRateWindow(opts.rateLimit, opts.now);
    this.bulk = new BulkQueue(opts.now);
    this.webhooks = new WebhookDelivery(opts.store, { retryDelaysMs: opts.webhookRetryDelaysMs });
    this.v3 = new V3Routes({ store: opts.store, now: opts.now, updateDelayMs: opts.v3UpdateDelayMs });
    const ctx: RouteContext = {
      store: opts.store,
      bulk: this.bulk,
      now: opts.now,
      unsubscribeAnswer: opts.unsubscribeAnswer,
    };
    this.routes = [
      ...accountRoutes(ctx),
      ...subscriberRoutes(ctx),
      ...tagRoutes(ctx),
      ...customFieldRoutes(ctx),
      ...bulkRoutes(ctx),
      ...webhookRoutes(ctx),
      ...(opts.extraRoutes ?? []),
      ...this.v3.routes(),
    ];
    this.routeByEndpoint = new Map(this.routes.map((r) => [`${r.method} ${r.pattern}`, r]));
  }

  route(endpoint: string): Route | undefined {
    return this.routeByEndpoint.get(endpoint);
  }

  /** Applies v3's delayed (202) updates that are due; run before every v3 call of this account. */
  beforeV3Call(): void {
    this.v3.applyDue();
  }

  async close(): Promise<void> {
    await this.bulk.close();
    await this.webhooks.close();
  }
}
