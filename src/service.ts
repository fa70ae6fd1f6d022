import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock';
import { type Config, secretsOf } from './config';
import { createApp } from './http/app';
import { AuditLog, type AuditSink } from './http/audit';
import { Authenticator, FailureThrottle } from './http/auth';
import { Readiness } from './http/health';
import { createScimHttpServer, type ScimHttpServer } from './http/httpServer';
import { IpAllowlist } from './http/ipAllowlist';
import { labels, Metrics } from './http/metrics';
import { recordKitCallInScope } from './http/requestScope';
import type { KitApi } from './kit/api';
import { KitClient } from './kit/client';
import { KitV3Client } from './kit/v3/client';
import { createKitLimiter, type KitLimiter, limiterIdFor } from './kit/limiter';
import { RedisTokenStore } from './kit/redisTokenStore';
import { sharedSlots } from './kit/slots';
import type { KitCallRecord, KitCredentials } from './kit/types';
import { Bootstrapper } from './lifecycle/bootstrapper';
import { shutDown } from './lifecycle/shutdown';
import { RedisLink } from './redis/redisLink';
import { SubscriberFieldMap } from './scim/fieldMap';
import { summariseIds } from './scim/inputLimits';
import { MemoryPageStore, type PageStore } from './scim/paging/pageStore';
import { RedisPageStore } from './scim/paging/redisPageStore';
import { declareUserSchemas } from './scim/scimmyGlobals';
import { PROVISIONED_USERS_TAG } from './scim/groups/tagCatalog';
import { buildScimServices, type ScimServices } from './scim/services';
import { createStatusPage, StatusBoard } from './status';
import { buildChangeTracking } from './scim/changeTracking';
import { webhookReceiver } from './http/webhookReceiver';
import { KitChanges } from './lifecycle/kitChanges';
import { buildSecurityEvents, type SecurityEvents } from './events';
import { EVENTS_SPC_EXTENSION, securityEventsDiscovery } from './events/discovery';

// The composition root: wires the Kit adapter, the SCIM services and the HTTP app from one validated Config.
// What the parts do lives in them: start-up checks in lifecycle/bootstrapper.ts, shutdown in
// lifecycle/shutdown.ts, the SCIM object graph in scim/services.ts.

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Injected clock for lastModified and caches (tests). */
  now?: () => Date;
  /** Timers and time for the limiter, Redis probes, start-up retries and shutdown (tests). */
  clock?: Clock;
}

export type { ScimServices } from './scim/services';

export class Service {
  readonly app: Express;
  readonly kit: KitApi;
  readonly limiter: KitLimiter;
  readonly metrics: Metrics;
  readonly readiness = new Readiness();
  readonly audit?: AuditLog;
  /** The /status page's figures (issue #19), fed by the hooks below; `auditTrail` feeds it and the AuditLog. */
  readonly statusBoard: StatusBoard;
  private readonly auditTrail: AuditSink;
  private readonly failureThrottle = new FailureThrottle();
  private readonly bootstrapper: Bootstrapper;
  /** The mirror's walks and Kit's webhooks, beside the IdP's requests (issue #13). */
  private readonly kitChanges: KitChanges;
  private http?: ScimHttpServer;
  private closing?: Promise<void>;
  /** The one Redis client of this replica (limiter slots, page caches, OAuth tokens); its health is /readyz's. */
  private readonly redis?: RedisLink;
  private readonly clock: Clock;
  /** Issue 15: SCIM security events (src/events); built by bootstrap(), since the signing key may be in Redis. */
  private securityEvents?: SecurityEvents;
  /** Kit calls sleeping between retries, woken by shutdown (see backoff). */
  private readonly backoffs = new Set<() => void>();

  constructor(private readonly options: ServiceOptions) {
    const { config, logger } = options;
    const credentials = config.kit.credentials;
    if (!credentials) throw new Error('Service needs Kit credentials (main.ts starts the sandbox otherwise)');
    // The User schemas (/Schemas, request checks, filters) follow the attribute mapping (issue #16).
    declareUserSchemas(config.scim.mapping);
    this.metrics = options.metrics ?? new Metrics();
    this.audit =
      config.auditLog === 'off' ? undefined : new AuditLog(config.auditLog, { knownSecrets: secretsOf(config) });
    this.clock = options.clock ?? systemClock;
    this.statusBoard = new StatusBoard(this.clock);
    this.auditTrail = this.statusBoard.auditTrail(this.audit);
    this.redis = config.redisUrl ? this.redisLink(config.redisUrl) : undefined;
    this.limiter = this.kitLimiter(credentials);
    const transport = {
      baseUrl: config.kit.baseUrl,
      limiter: this.limiter,
      timeoutMs: config.kit.timeoutMs,
      maxWaitMs: config.kit.maxWaitMs,
      now: () => this.clock.now(),
      sleep: (ms: number) => this.backoff(ms),
      onCall: (rec: KitCallRecord) => this.onKitCall(rec),
    };
    // The one place that knows which Kit API answers: everything else sees the KitApi port and its capabilities.
    this.kit =
      credentials.kind === 'v3Secret'
        ? new KitV3Client({ ...transport, apiSecret: credentials.apiSecret, provisioningTag: PROVISIONED_USERS_TAG })
        : new KitClient({ ...transport, credentials, tokenStore: this.sharedTokenStore(credentials) });
    this.kitChanges = new KitChanges({
      kit: this.kit,
      config,
      clock: this.clock,
      logger,
      now: () => this.now(),
      handled: (outcome) => this.metrics.webhookDeliveries.inc(labels({ outcome })),
    });
    this.bootstrapper = new Bootstrapper({
      kit: this.kit,
      readiness: this.readiness,
      logger,
      clock: this.clock,
      settings: config.startup,
      fieldLabels: SubscriberFieldMap.labels(config.scim.mapping),
      build: (fieldKeys) => this.scimServices(fieldKeys),
      started: (services) => {
        this.kitChanges.start(services);
        this.securityEvents?.publisher.attach(services.tracking.journal);
      },
    });
    this.app = createApp({
      services: () => this.scim(),
      authenticator: new Authenticator({ bearerTokens: config.scim.bearerTokens, jwt: config.scim.jwt }),
      failureThrottle: this.failureThrottle,
      ipAllowlist: config.ipAllowlist ? new IpAllowlist(config.ipAllowlist) : undefined,
      metrics: this.metrics,
      readiness: this.readiness,
      logger,
      audit: this.auditTrail,
      maxBodyBytes: config.scim.maxBodyBytes,
      renderer: config.scim.renderer,
      jwt: Boolean(config.scim.jwt),
      kitCapabilities: this.kit.capabilities,
      publicUrls: config.publicUrls,
      trustProxy: config.trustProxy,
      // Issue 15: the RFC 8936 poll endpoint and the JWKS, with their own credentials (receiver tokens).
      eventRoutes: config.events
        ? (req, res, next) => (this.securityEvents ? this.securityEvents.router(req, res, next) : next())
        : undefined,
      serviceProviderExtension: config.events
        ? (root) => ({ schema: EVENTS_SPC_EXTENSION, value: securityEventsDiscovery(config.events!, root) })
        : undefined,
      unloggedRoutes:
        config.changes.webhooks && config.changes.webhookSecret
          ? [webhookReceiver({ secret: config.changes.webhookSecret, hints: () => this.kitChanges.hints, logger })]
          : [],
      operatorPages: createStatusPage({
        config,
        board: this.statusBoard,
        readiness: this.readiness,
        limiter: this.limiter,
        clock: this.clock,
        failureThrottle: this.failureThrottle,
        onLoginFailure: (reason) => this.metrics.authFailures.inc(labels({ reason })),
      }),
    });
  }

  /** Kit's webhook deliveries, once the services exist (issue #13). */
  get hints(): KitChanges['hints'] {
    return this.kitChanges.hints;
  }

  /** The SCIM services, or a 503 while the start-up checks against Kit have not passed yet. */
  scim(): ScimServices {
    return this.bootstrapper.current();
  }

  /** Runs the start-up checks (again, if an earlier attempt failed); see lifecycle/bootstrapper.ts. */
  async bootstrap(): Promise<void> {
    await this.startSecurityEvents();
    return this.bootstrapper.bootstrap();
  }

  /** Issue 15: the SET signer, outbox and poll endpoint, before the journal they listen to exists. */
  get events(): SecurityEvents | undefined {
    return this.securityEvents;
  }

  private async startSecurityEvents(): Promise<void> {
    const { config, logger } = this.options;
    if (!config.events || this.securityEvents) return;
    this.securityEvents = await buildSecurityEvents({
      config: config.events,
      issuer: config.publicUrls.baseUrl!,
      clock: this.clock,
      logger,
      registry: this.metrics.registry,
      redis: this.redis,
      prefix: `kscim:${limiterIdFor(config.kit.baseUrl, config.kit.credentials!, 'events')}:`,
      audit: (detail) =>
        this.auditTrail.recordForRequest({
          operation: 'securityEventDropped',
          actor: 'security-events',
          resourceType: 'User',
          status: 507,
          detail,
        }),
    });
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

  /** Graceful shutdown within SHUTDOWN_TIMEOUT_MS (lifecycle/shutdown.ts); repeated calls share the first. */
  close(): Promise<void> {
    this.closing ??= shutDown({
      readiness: this.readiness,
      http: () => this.http,
      limiter: this.limiter,
      resources: [this.audit, this.failureThrottle, this.redis],
      stopBackground: () => {
        this.bootstrapper.stop();
        this.kitChanges.stop();
        void this.securityEvents?.close();
      },
      wakeBackoffs: () => {
        for (const wake of [...this.backoffs]) wake();
      },
      logger: this.options.logger,
      clock: this.clock,
      timeoutMs: this.options.config.shutdownTimeoutMs,
    });
    return this.closing;
  }

  /** The Kit client's wait between retries: on the service clock, and cut short by shutdown. */
  private backoff(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.clock.clearTimeout(timer);
        this.backoffs.delete(wake);
        resolve();
      };
      const timer = this.clock.setTimeout(wake, ms);
      this.backoffs.add(wake);
    });
  }

  private redisLink(url: string): RedisLink {
    const { config, logger } = this.options;
    this.readiness.set('redis', false, 'connecting');
    return new RedisLink({
      url,
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

  private kitLimiter(credentials: KitCredentials): KitLimiter {
    const { config, logger } = this.options;
    const id = limiterIdFor(config.kit.baseUrl, credentials);
    return createKitLimiter({
      id,
      budget: config.kit.ratePerMinute,
      windowMs: config.kit.rateWindowMs,
      clock: this.clock,
      slots: this.redis
        ? sharedSlots(this.redis, {
            id,
            windowMs: config.kit.rateWindowMs,
            fallbackReplicas: config.limiter.fallbackReplicas,
            keyTtlMs: config.limiter.keyTtlMs,
            onFallback: (fallback, reason) =>
              fallback
                ? logger.warn(
                    { err: { message: reason }, fallbackReplicas: config.limiter.fallbackReplicas },
                    'shared Kit limiter unavailable; booking from the per-replica fallback budget',
                  )
                : logger.info('shared Kit limiter in use again'),
          })
        : undefined,
      onQueue: (depth) => {
        this.metrics.limiterQueueDepth.set(labels({ priority: 'all' }), depth);
        this.statusBoard.queueDepth(depth);
      },
      onWait: (ms, priority) => {
        this.metrics.limiterWait.observe(labels({ priority }), ms / 1000);
        this.statusBoard.kitCallStarted(priority, ms);
      },
    });
  }

  /** KIT_TOKEN_STORE=redis; any other store is the client's own default (defaultTokenStore). */
  private sharedTokenStore(credentials: KitCredentials): RedisTokenStore | undefined {
    if (credentials.kind !== 'oauth' || credentials.tokenStorePath !== 'redis' || !this.redis) return undefined;
    const id = limiterIdFor(this.options.config.kit.baseUrl, credentials, 'oauth');
    return new RedisTokenStore(this.redis, { id, clock: this.clock });
  }

  private onKitCall(rec: KitCallRecord): void {
    this.metrics.recordKitCall(rec);
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

  private scimServices(fieldKeys: Map<string, string>): ScimServices {
    const { config, logger } = this.options;
    const pageStore = this.pageStore();
    return buildScimServices({
      kit: this.kit,
      fieldKeys,
      mapping: config.scim.mapping,
      pageStore,
      cacheTtlSeconds: config.pageCache.ttlSeconds,
      groupTagPrefix: config.scim.groupTagPrefix,
      now: this.options.now,
      changeTracking: (fields) => this.changeTracking(fields, pageStore),
      userEvents: {
        reactivationRejected: (operation, email) => {
          this.metrics.reactivationRejected.inc(labels({ operation }));
          this.auditTrail.recordForRequest({
            operation: 'reactivationRejected',
            resourceType: 'User',
            status: operation === 'create' ? 409 : 400,
            detail: `reactivation of ${email} refused: Kit cannot reactivate through its API`,
          });
        },
        deprovisioned: (kind) => this.metrics.deprovisions.inc(labels({ kind })),
        createRaced: (email, subscriberId) => {
          this.metrics.createRaced.inc();
          this.auditTrail.recordForRequest({
            operation: 'createRaced',
            resourceType: 'User',
            resourceId: String(subscriberId),
            status: 409,
            detail: `${email} was created in Kit between the lookup and the create; Kit's upsert updated subscriber ${subscriberId}`,
          });
          logger.warn({ subscriberId }, 'create raced a subscriber created in Kit; upsert updated it');
        },
      },
      groupEvents: {
        // Issue 15: the journal holds subscribers only, so a Group's SCIM write reaches the publisher here.
        written: (write) => this.securityEvents?.publisher.publishGroup({ ...write, at: this.now() }),
        // Count and the first few only: a request may name thousands of ids, each of any length.
        membersSkipped: (groupId, ids) => {
          const { count, first } = summariseIds(ids);
          logger.warn({ groupId, skippedCount: count, skipped: first }, 'group members skipped: not users');
        },
      },
    });
  }

  /** The change journal, lookup snapshot and mirror (issue #13): in Redis when there is a link. */
  private changeTracking(fields: SubscriberFieldMap, pageStore: PageStore) {
    const { config, logger } = this.options;
    return buildChangeTracking({
      config,
      kit: this.kit,
      fields,
      redis: this.redis,
      prefix: `kscim:${limiterIdFor(config.kit.baseUrl, config.kit.credentials!, 'changes')}:`,
      now: () => this.now(),
      clock: this.clock,
      // A change learned from Kit makes cached walk pages stale.
      changed: async () => {
        await pageStore.bumpGeneration('users');
      },
      onError: (what, err) => logger.warn({ err: { message: err.message } }, `${what} failed`),
    });
  }

  /** Milliseconds now: the injected `now` (tests stamping lastModified) or the clock. */
  private now(): number {
    return this.options.now ? this.options.now().getTime() : this.clock.now();
  }

  private pageStore(): PageStore {
    const { config, logger } = this.options;
    if (!this.redis) return new MemoryPageStore(config.pageCache.maxEntries);
    return new RedisPageStore(
      this.redis,
      `kscim:${limiterIdFor(config.kit.baseUrl, config.kit.credentials!, 'cache')}:`,
      (err) => logger.warn({ err: { message: err.message } }, 'Redis page cache unavailable; serving without cache'),
      config.pageCache.maxEntries,
    );
  }
}
