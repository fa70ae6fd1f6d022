import type { Server } from 'node:http';
import type { Express, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../platform/clock';
import { type Config, ConfigError, secretsOf } from '../config/environment';
import { allowlistHandlers, createApp } from '../http/app';
import { AuditLog } from '../platform/audit';
import { Authenticator } from '../http/auth';
import { FailureThrottle, type FailureThrottleOptions } from '../platform/failureThrottle';
import { Readiness } from '../platform/readiness';
import { createScimHttpServer, type ScimHttpServer } from '../http/httpServer';
import { IpAllowlist } from '../http/ipAllowlist';
import { labels, Metrics } from '../platform/metrics';
import type { KitApi } from '../kit/api';
import type { KitLimiter } from '../kit/limiter';
import { shutDown } from './shutdown';
import { webhookReceiver, type WebhookTarget } from '../http/webhookReceiver';
import type { KitChanges } from './kitChanges';
import { RedisLink } from '../platform/redisLink';
import type { RedisTopology } from '../platform/redisTopology';
import type { ScimServices } from '../scim/services';
import type { SecurityEvents } from '../events';
import { replicaName, type StatusBoard, statusChooser } from '../status';
import { LimiterRegistry } from './limiterRegistry';
import { DEFAULT_TENANT_ID, TENANT_ID_PATTERN, type TenantConfig, type TenantsConfig } from '../config/tenants/model';
import { processReadiness } from './readinessReport';
import { livenessHandler, readinessHandler } from '../http/health';
import { planReload } from './reloadPlan';
import { Tenant } from './tenant';
import { TenantDirectory } from './tenantDirectory';

// The process: the HTTP server and app, Redis, metrics, the audit file, the failure throttle and the IP
// allow-list, and the tenants it serves, each a Kit account with everything that belongs to it
// (tenant.ts). Shutdown lives in shutdown.ts; what one tenant is, in tenant.ts.

export interface ServiceOptions {
  /** The process-wide settings (port, Redis, audit log, proxies); without `tenants`, also the one tenant. */
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Timers and time: the limiter, Redis probes, start-up retries, shutdown, and the stamps (meta.lastModified). */
  clock?: Clock;
  /** Several Kit accounts (TENANTS_FILE); without it, the tenant `default` built from `config`. */
  tenants?: TenantsConfig;
  /** The failed-authentication throttle's budget and spacing (tests of refusals widen the spacing). */
  failureThrottle?: FailureThrottleOptions;
}

/** What a reload did, by tenant id. */
export interface ReloadOutcome {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

export type { ScimServices } from '../scim/services';

/** The tenants the environment alone describes: one, `default`, whose tokens are also the operator's. */
export function environmentTenants(config: Config): TenantsConfig {
  return {
    source: { kind: 'environment' },
    tenants: [{ id: DEFAULT_TENANT_ID, config }],
    operatorTokens: config.scim.bearerTokens,
  };
}

/** What a Service cannot run with; a reload with such a configuration is refused and the old one kept. */
function checkTenants(tenants: TenantsConfig): void {
  if (tenants.tenants.length === 0) throw new Error('the tenants configuration names no tenant');
  const seen = new Set<string>();
  for (const t of tenants.tenants) {
    if (!TENANT_ID_PATTERN.test(t.id)) throw new Error(`tenant id "${t.id.slice(0, 64)}" is not a valid path segment`);
    if (seen.has(t.id)) throw new Error(`tenant ${t.id} is configured twice`);
    seen.add(t.id);
    if (!t.config.kit.credentials)
      throw new Error(`tenant ${t.id} has no Kit credentials (main.ts starts the sandbox otherwise)`);
  }
}

export class Service {
  readonly app: Express;
  readonly metrics: Metrics;
  /** The process's own checks (Redis) and its shutdown; each tenant has its own (Kit, start-up checks). */
  readonly readiness: Readiness;
  readonly audit?: AuditLog;
  private readonly directory = new TenantDirectory();
  private readonly limiters: LimiterRegistry;
  private readonly failureThrottle: FailureThrottle;
  private readonly allowlist: RequestHandler[];
  /** This process among the replicas, as the status page names it (every tenant's page says the same). */
  private readonly replica = replicaName();
  private readonly ipAllowlist?: IpAllowlist;
  private readonly labelled: boolean;
  private tenantsConfig: TenantsConfig;
  private operators: Authenticator;
  /** Tenants a reload took out, finishing their in-flight requests. */
  private readonly retiring = new Set<Tenant>();
  /** Tenants a reload built and is starting, not yet in the directory. */
  private readonly starting = new Set<Tenant>();
  private reloading: Promise<unknown> = Promise.resolve();
  private http?: ScimHttpServer;
  private closing?: Promise<void>;
  /** The one Redis client of this replica (limiter slots, page caches, OAuth tokens); its health is /readyz's. */
  private readonly redis?: RedisLink;
  private readonly clock: Clock;

  constructor(private readonly options: ServiceOptions) {
    const { config, logger } = options;
    const tenants = options.tenants ?? environmentTenants(config);
    checkTenants(tenants);
    this.tenantsConfig = tenants;
    this.failureThrottle = new FailureThrottle(options.failureThrottle);
    // Series and audit lines name their tenant, except those of the environment's one tenant: they stay as they
    // were before tenants, so existing dashboards and alerts keep working.
    this.labelled = tenants.source.kind !== 'environment';
    this.metrics = options.metrics ?? new Metrics();
    this.clock = options.clock ?? systemClock;
    this.readiness = new Readiness({ clock: this.clock });
    this.failureThrottle = new FailureThrottle({ clock: this.clock });
    this.audit =
      config.auditLog === 'off'
        ? undefined
        : openAuditLog(config.auditLog, {
            clock: this.clock,
            knownSecrets: tenants.tenants.flatMap((t) => secretsOf(t.config)),
          });
    this.redis = config.redisTopology ? this.redisLink(config.redisTopology) : undefined;
    this.limiters = new LimiterRegistry({ clock: this.clock, logger, redis: this.redis });
    this.ipAllowlist = config.ipAllowlist ? new IpAllowlist(config.ipAllowlist) : undefined;
    this.allowlist = allowlistHandlers(this.ipAllowlist, () =>
      this.metrics.authFailures.inc(labels({ reason: 'ip_not_allowed' })),
    );
    for (const t of tenants.tenants) this.directory.put(this.buildTenant(t));
    this.operators = this.operatorAuthenticator(tenants);
    this.app = createApp({
      tenants: this.directory,
      metrics: this.metrics,
      logger,
      failureThrottle: this.failureThrottle,
      ipAllowlist: this.ipAllowlist,
      trustProxy: config.trustProxy,
      operatorAuthenticator: () => this.operators,
      readiness: readinessHandler(() => processReadiness(this.readiness, this.directory.all(), this.redis?.state())),
      liveness: livenessHandler(),
      unloggedRoutes: [webhookReceiver({ targets: () => this.webhookTargets() })],
      // The tenant chooser: /status when several tenants are served (one tenant answers /status itself).
      statusChooser: statusChooser({
        tenants: () =>
          this.directory.all().map((t) => ({ id: t.id, sessions: t.statusPage.sessions, sandbox: t.sandbox })),
        allowlist: this.allowlist,
        failureThrottle: this.failureThrottle,
        publicBaseUrl: config.publicUrls.baseUrl,
        onLoginFailure: (reason) => this.metrics.authFailures.inc(labels({ reason })),
      }),
    });
  }

  /** The tenant with this id, if the service serves it. */
  tenant(id: string): Tenant | undefined {
    return this.directory.find(id);
  }

  /** Every tenant served right now. */
  tenants(): Tenant[] {
    return this.directory.all();
  }

  /** The first tenant: the only one when the environment alone configures the server (what tests use). */
  private get first(): Tenant {
    return this.directory.all()[0];
  }

  get kit(): KitApi {
    return this.first.kit;
  }

  get limiter(): KitLimiter {
    return this.first.limiter;
  }

  /** The /status page's figures of the first tenant. */
  get statusBoard(): StatusBoard {
    return this.first.statusBoard;
  }

  /** Kit's webhook deliveries, once the services exist. */
  get hints(): KitChanges['hints'] {
    return this.first.hints;
  }

  /** The SCIM services of the first tenant, or a 503 while its start-up checks have not passed yet. */
  scim(): ScimServices {
    return this.first.scim();
  }

  /** The first tenant's security events: its SET signer, outbox and poll endpoint. */
  get events(): SecurityEvents | undefined {
    return this.first.events;
  }

  /**
   * Runs every tenant's start-up checks, side by side: one whose Kit account fails does not hold up the others
   * (it keeps retrying in the background). Rejects only when every tenant failed to start.
   */
  async bootstrap(): Promise<void> {
    const tenants = this.directory.all();
    const outcomes = await Promise.allSettled(tenants.map((t) => t.bootstrap()));
    const failures = outcomes.flatMap((o, i) =>
      o.status === 'rejected' ? [{ tenant: tenants[i], err: o.reason }] : [],
    );
    for (const { tenant, err } of failures)
      tenant.logger.error({ err: { message: (err as Error).message } }, 'tenant could not start');
    if (failures.length > 0 && failures.length === tenants.length) throw failures[0].err;
  }

  /**
   * Applies a new tenants configuration (SIGHUP): tenants whose entry is the same keep running untouched;
   * added ones are built and started; a changed one is rebuilt and swapped in (new requests reach the new one)
   * while the old one finishes its in-flight requests; a removed one answers 404 to new requests at once and
   * closes once its in-flight requests are done. A configuration that cannot be built is refused whole, and
   * the running one kept. Reloads run one at a time.
   */
  reload(next: TenantsConfig): Promise<ReloadOutcome> {
    const run = this.reloading.then(() => this.applyReload(next));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(next: TenantsConfig): Promise<ReloadOutcome> {
    if (this.closing) throw new Error('the service is shutting down');
    checkTenants(next);
    const { logger } = this.options;
    const plan = planReload(this.tenantsConfig.tenants, next.tenants);
    // Built before anything is swapped: a tenant that cannot be built leaves the running ones as they are.
    const built: Tenant[] = [];
    try {
      for (const t of [...plan.added, ...plan.changed]) built.push(this.buildTenant(t));
    } catch (err) {
      await Promise.all(built.map((t) => t.close(0)));
      throw err;
    }
    this.audit?.rememberSecrets(built.flatMap((t) => secretsOf(t.config)));
    // Started before they are swapped in, so a changed tenant's requests meet a tenant that serves (the old one
    // until then), not a 503 while the new one checks Kit. One that fails its checks is swapped in all the same:
    // the file says so, and it keeps retrying in the background like any tenant at start-up.
    for (const tenant of built) this.starting.add(tenant);
    try {
      await Promise.all(
        built.map((t) =>
          t
            .bootstrap()
            .catch((err) => t.logger.error({ err: { message: (err as Error).message } }, 'tenant could not start')),
        ),
      );
    } finally {
      for (const tenant of built) this.starting.delete(tenant);
    }
    if (this.closing) {
      await Promise.all(built.map((t) => t.close(0)));
      throw new Error('the service is shutting down');
    }
    const old = [...plan.changed.map((t) => t.id), ...plan.removed].map((id) => this.directory.find(id)!);
    for (const id of plan.removed) this.directory.remove(id);
    for (const tenant of built) this.directory.put(tenant);
    this.tenantsConfig = next;
    this.operators = this.operatorAuthenticator(next);
    for (const t of plan.added) logger.info({ tenant: t.id }, 'tenant added');
    for (const t of plan.changed)
      logger.info({ tenant: t.id }, 'tenant changed; the previous one closes after its requests');
    for (const id of plan.removed) logger.info({ tenant: id }, 'tenant removed; it closes after its requests');
    // Retired in the background: the reload answers once the new ones serve, not when the old ones drained.
    for (const tenant of old) this.retire(tenant);
    return {
      added: plan.added.map((t) => t.id),
      removed: plan.removed,
      changed: plan.changed.map((t) => t.id),
      unchanged: plan.unchanged,
    };
  }

  /** Tenants taken out by reloads and still finishing their requests; settles when all of them closed. */
  async retired(): Promise<void> {
    await Promise.all([...this.retiring].map((t) => t.close()));
  }

  private retire(tenant: Tenant): void {
    this.retiring.add(tenant);
    void tenant
      .close()
      .catch((err) => tenant.logger.error({ err: { message: (err as Error).message } }, 'tenant did not close'))
      .finally(() => this.retiring.delete(tenant));
  }

  async listen(port: number, host: string): Promise<Server> {
    if (this.closing) throw new Error('the service is shutting down');
    const http = createScimHttpServer(this.app, this.clock);
    await new Promise<void>((resolve, reject) => {
      http.server.once('error', reject);
      http.server.listen(port, host, () => {
        http.server.off('error', reject);
        resolve();
      });
    });
    this.http = http;
    if (this.closing) {
      // close() began while the socket was opening: it must not stay open behind the shutdown's back.
      http.drain();
      throw new Error('the service is shutting down');
    }
    return http.server;
  }

  /** Graceful shutdown within SHUTDOWN_TIMEOUT_MS (shutdown.ts); repeated calls share the first. */
  close(): Promise<void> {
    const every = () => [...this.directory.all(), ...this.retiring, ...this.starting];
    this.closing ??= shutDown({
      readiness: this.readiness,
      http: () => this.http,
      limiter: this.limiters.stopping(),
      resources: [this.audit, this.failureThrottle, this.redis],
      stopBackground: () => {
        for (const tenant of every()) tenant.stopBackground();
      },
      wakeBackoffs: () => {
        for (const tenant of every()) tenant.wakeBackoffs();
      },
      logger: this.options.logger,
      clock: this.clock,
      timeoutMs: this.options.config.shutdownTimeoutMs,
    });
    return this.closing;
  }

  private buildTenant(t: TenantConfig): Tenant {
    const tenant: Tenant = new Tenant({
      id: t.id,
      config: t.config,
      logger: this.options.logger,
      metrics: this.metrics,
      audit: this.audit,
      redis: this.redis,
      clock: this.clock,
      limiters: this.limiters,
      failureThrottle: this.failureThrottle,
      allowlist: this.allowlist,
      labelled: this.labelled,
      otherTenant: (authorization) => this.directory.belongsElsewhere(t.id, authorization),
      sandbox: t.sandbox,
      replica: this.replica,
    });
    return tenant;
  }

  /**
   * Who may read every tenant's series at /metrics. With the environment's one tenant, its own credentials
   * (tokens and JWT); otherwise the tenants file's operator tokens.
   */
  private operatorAuthenticator(tenants: TenantsConfig): Authenticator {
    const only = this.directory.only();
    if (tenants.source.kind === 'environment' && only) return only.authenticator;
    return new Authenticator({ bearerTokens: tenants.operatorTokens, clock: this.clock });
  }

  /** Kit's webhook deliveries reach the tenant whose secret is in their path. */
  private webhookTargets(): WebhookTarget[] {
    return this.directory.all().flatMap((t) => {
      const secret = t.webhookSecret;
      return secret ? [{ secret, hints: () => t.hints, logger: t.logger }] : [];
    });
  }

  private redisLink(topology: RedisTopology): RedisLink {
    const { config, logger } = this.options;
    this.readiness.set('redis', false, 'connecting');
    return new RedisLink({
      topology,
      replicaAckTimeoutMs: config.redis.replicaAckTimeoutMs,
      commandTimeoutMs: config.redis.commandTimeoutMs,
      probeIntervalMs: config.redis.probeIntervalMs,
      clock: this.clock,
      onHealthChange: (ok, detail) => {
        this.readiness.set('redis', ok, ok ? undefined : `Redis unavailable: ${detail}`);
        if (ok) logger.info('Redis answers again; shared limiter and caches back in use');
        else
          logger.warn(
            { err: { message: detail } },
            'Redis unavailable; limiter on its per-replica fallback, caches off',
          );
      },
    });
  }
}

/**
 * The audit file, opened at start-up; a path that cannot be opened is a configuration problem naming AUDIT_LOG,
 * not a bare ENOENT that leaves the operator to guess which of the file settings it was.
 */
function openAuditLog(path: string, opts: ConstructorParameters<typeof AuditLog>[1]): AuditLog {
  try {
    return new AuditLog(path, opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : code;
    throw new ConfigError([
      `AUDIT_LOG: cannot open ${path} for appending (${why}); name a writable file, or set AUDIT_LOG=stdout`,
    ]);
  }
}
