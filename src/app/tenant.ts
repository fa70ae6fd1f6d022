import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../platform/clock';
import type { Config } from '../config/environment';
import { EVENTS_SPC_EXTENSION, securityEventsCapability, securityEventsDiscovery } from '../events/discovery';
import { buildSecurityEvents, type SecurityEvents } from '../events';
import type { AuditLog, AuditSink } from '../platform/audit';
import { type AuthFailureReason, Authenticator } from '../http/auth';
import type { FailureThrottle } from '../platform/failureThrottle';
import { hashTag } from '../platform/redisKeys';
import { Readiness } from '../platform/readiness';
import { labels, type Metrics, type TenantLabel } from '../platform/metrics';
import { recordKitCallInScope } from '../platform/requestScope';
import { createTenantRouter, type TenantEndpoint } from '../http/tenantRoutes';
import type { KitApi } from '../kit/api';
import { KitClient } from '../kit/client';
import { limiterIdFor, type KitLimiter } from '../kit/limiter';
import type { KitCallRecord } from '../kit/types';
import { KitV3Client } from '../kit/v3/client';
import { Bootstrapper } from '../scim/bootstrapper';
import { KitChanges } from './kitChanges';
import { sharedTokenStore } from './sharedTokenStore';
import { EVENTS_PATH, receiverFor } from '../events/pollRoutes';
import type { RedisLink } from '../platform/redisLink';
import { PROVISIONED_USERS_TAG } from '../scim/groups/tagCatalog';
import { declareUserSchemas } from '../scim/scimmyGlobals';
import { createStatusPage, StatusBoard, type StatusPage } from '../status';
import type { LimiterLease, LimiterRegistry } from './limiterRegistry';
import { DEFAULT_TENANT_ID } from '../config/tenants/model';
import { tenantScimServices } from './tenantScim';
import { SubscriberFieldMap } from '../scim/fieldMap';
import type { ScimServices } from '../scim/services';

// One Kit account behind the server: its Kit client, the limiter of its credential, its start-up
// checks, caches, change journal and mirror, security events, status board, readiness, credentials and SCIM
// router. What spans tenants (the HTTP server, Redis link, metrics registry, audit file, failure throttle)
// belongs to the process (service.ts) and is handed in.

export interface TenantDeps {
  id: string;
  config: Config;
  /** The process's logger; the tenant logs through a child that names it. */
  logger: Logger;
  metrics: Metrics;
  audit?: AuditLog;
  redis?: RedisLink;
  clock: Clock;
  limiters: LimiterRegistry;
  failureThrottle: FailureThrottle;
  /** The IP allow-list's check, in front of the tenant's credentials. */
  allowlist: RequestHandler[];
  /**
   * Whether series and audit lines name the tenant. Off for the one tenant the environment describes, whose
   * series stay exactly as they were before tenants (dashboards and alerts keep working).
   */
  labelled: boolean;
  /** Whether a credential this tenant refused is another tenant's (answered 404). */
  otherTenant(authorization: string): Promise<boolean>;
  /** Its Kit is the built-in in-memory sandbox (builtInSandbox.ts): /readyz and /status say so. */
  sandbox?: boolean;
  /** This process among the replicas (status/replica.ts); one is made up when not given. */
  replica?: string;
}

export class Tenant implements TenantEndpoint {
  readonly id: string;
  readonly config: Config;
  readonly kit: KitApi;
  readonly limiter: KitLimiter;
  /** Kit and the start-up checks of this tenant; Redis is the process's (service.ts). */
  readonly readiness: Readiness;
  readonly sandbox: boolean;
  readonly statusBoard: StatusBoard;
  /** Its status page: the router, the sessions the chooser signs in with, this replica's heartbeat. */
  readonly statusPage: StatusPage;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** `{tenant: id}`, or nothing for the environment's one tenant (see TenantDeps.labelled). */
  readonly label: TenantLabel;
  /** Everything the tenant serves, relative to its mount (tenantRoutes.ts). */
  readonly router: Router;
  private readonly auditTrail: AuditSink;
  private readonly lease: LimiterLease;
  private readonly bootstrapper: Bootstrapper;
  /** The mirror's walks and Kit's webhooks, beside the IdP's requests. */
  private readonly kitChanges: KitChanges;
  /** Security events: built by bootstrap(), since the signing key may be in Redis. */
  private securityEvents?: SecurityEvents;
  /** Kit calls sleeping between retries, woken when the tenant closes. */
  private readonly backoffs = new Set<() => void>();
  /** Requests inside the tenant's router right now; close() waits for them. */
  private inFlight = 0;
  private readonly drained = new Set<() => void>();
  private accepting = true;
  private stopped = false;
  private closing?: Promise<void>;

  constructor(private readonly deps: TenantDeps) {
    const { id, config } = deps;
    const credentials = config.kit.credentials;
    if (!credentials) throw new Error(`tenant ${id} needs Kit credentials`);
    this.id = id;
    this.config = config;
    this.sandbox = deps.sandbox === true;
    this.readiness = new Readiness({ clock: deps.clock, sandbox: this.sandbox });
    this.label = deps.labelled ? { tenant: id } : {};
    this.logger = deps.logger.child({ tenant: id });
    // Requests read the tenant's own UserSchema (scim/userSchema.ts, through its services); scimmy's process-wide
    // registry, which only scimmy-routers' leftover answers read, follows the last tenant built.
    declareUserSchemas(config.scim.mapping);
    this.statusBoard = new StatusBoard(deps.clock);
    // Every audit line names its tenant; the status board keeps only this tenant's (it is the tenant's own).
    const audit = deps.audit;
    this.auditTrail = this.statusBoard.auditTrail(
      audit ? { record: (e) => audit.record({ ...e, tenant: id }) } : undefined,
    );
    this.lease = deps.limiters.acquire(config, {
      onQueue: (depth) => {
        deps.metrics.limiterQueueDepth.set(this.labels({ priority: 'all' }), depth);
        this.statusBoard.queueDepth(depth);
      },
      onWait: (ms, priority) => {
        deps.metrics.limiterWait.observe(this.labels({ priority }), ms / 1000);
        this.statusBoard.kitCallStarted(priority, ms);
      },
    });
    this.limiter = this.lease.limiter;
    const transport = {
      baseUrl: config.kit.baseUrl,
      limiter: this.limiter,
      timeoutMs: config.kit.timeoutMs,
      maxWaitMs: config.kit.maxWaitMs,
      now: () => deps.clock.now(),
      sleep: (ms: number) => this.backoff(ms),
      onCall: (rec: KitCallRecord) => this.onKitCall(rec),
    };
    // The one place that knows which Kit API answers: everything else sees the KitApi port and its capabilities.
    this.kit =
      credentials.kind === 'v3Secret'
        ? new KitV3Client({ ...transport, apiSecret: credentials.apiSecret, provisioningTag: PROVISIONED_USERS_TAG })
        : new KitClient({
            ...transport,
            credentials,
            tokenStore: sharedTokenStore(this.config.kit.baseUrl, credentials, deps.redis, deps.clock),
          });
    this.kitChanges = new KitChanges({
      kit: this.kit,
      config,
      clock: deps.clock,
      logger: this.logger,
      now: () => deps.clock.now(),
      handled: (outcome) => deps.metrics.webhookDeliveries.inc(this.labels({ outcome })),
      dropped: (reason) => {
        deps.metrics.webhookDeliveriesDropped.inc(this.labels({ reason }));
        this.statusBoard.webhookDeliveryDropped(reason);
      },
    });
    this.bootstrapper = new Bootstrapper({
      kit: this.kit,
      readiness: this.readiness,
      logger: this.logger,
      clock: deps.clock,
      settings: config.startup,
      fieldLabels: SubscriberFieldMap.labels(config.scim.mapping),
      build: (fieldKeys) =>
        tenantScimServices(
          {
            kit: this.kit,
            config,
            logger: this.logger,
            metrics: deps.metrics,
            labels: (extra) => this.labels(extra),
            audit: this.auditTrail,
            onDeprovisioned: (kind) => this.statusBoard.deprovisioned(kind),
            redis: deps.redis,
            clock: deps.clock,
            redisPrefix: (namespace) => this.redisPrefix(namespace),
            securityEvents: () => this.securityEvents,
          },
          fieldKeys,
        ),
      started: (services) => {
        this.kitChanges.start(services);
        this.securityEvents?.publisher.attach(services.tracking.journal);
      },
    });
    this.authenticator = new Authenticator({
      bearerTokens: config.scim.bearerTokens,
      jwt: config.scim.jwt,
      clock: deps.clock,
    });
    const onAuthFailure = (reason: AuthFailureReason | 'unknown_token' | 'throttled') =>
      deps.metrics.authFailures.inc(this.labels({ reason }));
    this.statusPage = createStatusPage({
      config,
      board: this.statusBoard,
      readiness: this.readiness,
      limiter: this.limiter,
      clock: deps.clock,
      // The environment's one tenant has no name of its own; a tenants file's tenants are named by their id.
      tenant: deps.labelled ? id : undefined,
      replica: deps.replica,
      redis: deps.redis ? { link: deps.redis, prefix: this.redisPrefix('status') } : undefined,
      redisState: deps.redis ? () => deps.redis!.state() : undefined,
      failureThrottle: deps.failureThrottle,
      onLoginFailure: onAuthFailure,
    });
    this.router = createTenantRouter({
      services: () => this.scim(),
      authenticator: this.authenticator,
      logger: this.logger,
      audit: this.auditTrail,
      failureThrottle: deps.failureThrottle,
      allowlist: deps.allowlist,
      onAuthFailure,
      otherTenant: deps.otherTenant,
      maxBodyBytes: config.scim.maxBodyBytes,
      jwt: Boolean(config.scim.jwt),
      kitCapabilities: this.kit.capabilities,
      publicUrls: config.publicUrls,
      readiness: this.readiness,
      metrics: deps.metrics,
      label: this.label,
      // The RFC 8936 poll endpoint and the JWKS, with their own credentials (receiver tokens).
      events: config.events
        ? {
            pollPath: EVENTS_PATH,
            routes: this.securityEventRoutes(),
            isReceiver: (authorization) => receiverFor(config.events!.receivers, authorization) !== undefined,
          }
        : undefined,
      serviceProviderExtension: config.events
        ? (root) => ({
            schema: EVENTS_SPC_EXTENSION,
            value: securityEventsDiscovery(config.events!, root),
            core: { securityEvents: securityEventsCapability() },
          })
        : undefined,
      operatorPages: this.statusPage.router,
    });
  }

  /**
   * The dispatcher's way in: counts the request while it is inside the tenant (close() waits for it), and names
   * the tenant for the metrics and logs of the request. A tenant that is closing takes no new request.
   */
  readonly handle: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (!this.accepting) return next();
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      if (this.inFlight === 0) for (const done of [...this.drained]) done();
    });
    res.locals.tenant = this.id;
    res.locals.tenantLabel = this.label;
    this.router(req, res, next);
  };

  /** The tenant's router, for route introspection (TenantEndpoint.routes). */
  get routes(): Router {
    return this.router;
  }

  /** `extra` with the tenant's label (none for the environment's one tenant), prototype-free for prom-client. */
  labels<T extends Record<string, string>>(extra: T): T & TenantLabel {
    return labels({ ...this.label, ...extra });
  }

  /** Kit's webhook deliveries, once the services exist. */
  get hints(): KitChanges['hints'] {
    return this.kitChanges.hints;
  }

  /** The secret in the path of Kit's webhook deliveries for this account, when webhooks are on. */
  get webhookSecret(): string | undefined {
    return this.config.changes.webhooks ? this.config.changes.webhookSecret : undefined;
  }

  /** The SCIM services, or a 503 while the start-up checks against Kit have not passed yet. */
  scim(): ScimServices {
    return this.bootstrapper.current();
  }

  /** Security events: the SET signer, outbox and poll endpoint, before the journal they listen to exists. */
  get events(): SecurityEvents | undefined {
    return this.securityEvents;
  }

  get ready(): boolean {
    return this.readiness.ready;
  }

  /** Runs the start-up checks (again, if an earlier attempt failed); see scim/bootstrapper.ts. */
  async bootstrap(): Promise<void> {
    if (!this.stopped) this.statusPage.start();
    await this.startSecurityEvents();
    return this.bootstrapper.bootstrap();
  }

  /**
   * Retires the tenant (a reload removed or replaced it): no new request gets in, those inside finish (up to
   * `deadlineMs`), then its background work stops and its limiter is given back (stopped if no other tenant
   * shares its Kit credential). Repeated calls share the first.
   */
  close(deadlineMs = this.config.shutdownTimeoutMs): Promise<void> {
    this.closing ??= this.retire(deadlineMs);
    return this.closing;
  }

  /** The process shuts down: what would start new work on its own stops (the limiters stop with the process). */
  stopBackground(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.readiness.beginShutdown();
    this.bootstrapper.stop();
    this.kitChanges.stop();
    this.statusPage.stop();
    void this.securityEvents?.close();
  }

  /** Kit calls sleeping between retries: woken, they meet a stopped limiter and answer a retryable 503. */
  wakeBackoffs(): void {
    for (const wake of [...this.backoffs]) wake();
  }

  private async retire(deadlineMs: number): Promise<void> {
    this.accepting = false;
    if (!(await this.drain(deadlineMs))) {
      this.logger.warn({ inFlight: this.inFlight }, 'tenant closed with requests still running');
    }
    this.stopBackground();
    const released = this.lease.release();
    this.wakeBackoffs();
    await released;
  }

  /** Whether the requests inside the tenant finished within `ms`. */
  private drain(ms: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.deps.clock.clearTimeout(timer);
        this.drained.delete(onDrained);
        resolve(ok);
      };
      const onDrained = () => done(true);
      this.drained.add(onDrained);
      const timer: TimerHandle = this.deps.clock.setTimeout(() => done(false), ms);
    });
  }

  /**
   * The security events routes, built once the events start: until then requests pass on. Their routes are
   * listed (`stack`) like a router's, so what the app mounts can be enumerated (the OpenAPI drift test).
   */
  private securityEventRoutes(): RequestHandler {
    const routes: RequestHandler = (req, res, next) =>
      this.securityEvents ? this.securityEvents.router(req, res, next) : next();
    Object.defineProperty(routes, 'stack', { get: () => this.securityEvents?.router.stack ?? [] });
    return routes;
  }

  private async startSecurityEvents(): Promise<void> {
    const { config } = this;
    if (!config.events || this.securityEvents || this.stopped) return;
    this.securityEvents = await buildSecurityEvents({
      config: config.events,
      // A tenant's SETs name it as their issuer, so a receiver of two tenants never takes one's for the other's;
      // the environment's one tenant keeps the issuer it had before tenants.
      issuer:
        this.id === DEFAULT_TENANT_ID ? config.publicUrls.baseUrl! : `${config.publicUrls.baseUrl!}/tenants/${this.id}`,
      clock: this.deps.clock,
      logger: this.logger,
      registry: this.deps.metrics.registry,
      labels: this.label,
      redis: this.deps.redis,
      prefix: this.redisPrefix('events'),
      audit: (detail) =>
        this.auditTrail.recordForRequest({
          operation: 'securityEventDropped',
          actor: 'security-events',
          resourceType: 'User',
          status: 507,
          detail,
        }),
    });
    // Closed while the signing key was being read: nothing may keep running behind the tenant's back.
    if (this.stopped) void this.securityEvents.close();
  }

  /**
   * Redis keys of this tenant's caches, journal, mirror and outbox. The `default` tenant keeps the unprefixed keys
   * of a server without a tenants file (adding the file keeps its data); another tenant adds its id, so two
   * tenants on one Kit account (say, two group tag prefixes) never share a cache or a journal. The whole prefix
   * is one hash tag, so the scripts and transactions over its keys run on one cluster shard.
   */
  private redisPrefix(namespace: string): string {
    return tenantRedisPrefix(this.id, limiterIdFor(this.config.kit.baseUrl, this.config.kit.credentials!, namespace));
  }

  /** The Kit client's wait between retries: on the service clock, and cut short when the tenant stops. */
  private backoff(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.deps.clock.clearTimeout(timer);
        this.backoffs.delete(wake);
        resolve();
      };
      const timer = this.deps.clock.setTimeout(wake, ms);
      this.backoffs.add(wake);
    });
  }

  private onKitCall(rec: KitCallRecord): void {
    this.deps.metrics.recordKitCall(rec, this.label);
    this.statusBoard.kitCallAnswered(rec);
    recordKitCallInScope(rec);
    if (rec.status === 401 || rec.status === 403) this.readiness.set('kit', false, 'Kit rejected the credentials');
    // Kit accepting a call again (the credentials were fixed, an OAuth token refreshed): ready again.
    else if (typeof rec.status === 'number' && rec.status >= 200 && rec.status < 300 && !this.kitReady()) {
      this.readiness.set('kit', true);
    }
  }

  private kitReady(): boolean {
    return this.readiness.report().checks.kit?.ok === true;
  }
}

/** The prefix of a tenant's keys in namespace `account` (limiterIdFor(..., namespace)): one cluster hash slot. */
export function tenantRedisPrefix(tenantId: string, account: string): string {
  return tenantId === DEFAULT_TENANT_ID ? `kscim:${hashTag(account)}:` : `kscim:tenant:${hashTag(tenantId, account)}:`;
}
