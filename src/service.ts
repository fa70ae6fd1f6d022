import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { type Clock, systemClock, type TimerHandle } from './clock';
import { type Config, secretsOf } from './config';
import { createApp } from './http/app';
import { AuditLog } from './http/audit';
import { Authenticator, FailureThrottle } from './http/auth';
import { IpAllowlist } from './http/ipAllowlist';
import { Readiness } from './http/health';
import { createScimHttpServer, type ScimHttpServer } from './http/httpServer';
import { labels, Metrics } from './http/metrics';
import { currentScope, recordKitCallInScope } from './http/requestScope';
import { KitClient } from './kit/client';
import { KitAuthError } from './kit/errors';
import { createKitLimiter, type KitLimiter, limiterIdFor } from './kit/limiter';
import { sharedSlots } from './kit/slots';
import { RedisTokenStore } from './kit/redisTokenStore';
import { FileTokenStore, type TokenStore } from './kit/tokenStore';
import type { CallOptions, KitCallRecord } from './kit/types';
import { ScimServiceUnavailable } from './scim/errors';
import { SubscriberFieldMap } from './scim/fieldMap';
import { GroupDirectory } from './scim/groups/groups';
import { TagMembership } from './scim/groups/membership';
import { summariseIds } from './scim/inputLimits';
import { DELETED_USERS_TAG, TagCatalog } from './scim/groups/tagCatalog';
import { CursorPager } from './scim/paging/cursorPager';
import { MemoryPageStore, type PageStore } from './scim/paging/pageStore';
import { RedisPageStore } from './scim/paging/redisPageStore';
import { UserDirectory, type UserEvents } from './scim/users';
import { RedisLink } from './redis/redisLink';

// The composition root: builds the Kit adapter, the SCIM services and the HTTP app from one validated Config.

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  metrics?: Metrics;
  /** Injected clock for lastModified and caches (tests). */
  now?: () => Date;
  /** Timers and time for the limiter, Redis probes, start-up retries and shutdown (tests). */
  clock?: Clock;
}

export interface ScimServices {
  users: UserDirectory;
  groups: GroupDirectory;
  membership: TagMembership;
  catalog: TagCatalog;
  fields: SubscriberFieldMap;
  pageStore: PageStore;
}

const BACKGROUND: CallOptions = { priority: 'background' };

export class Service {
  readonly app: Express;
  readonly kit: KitClient;
  readonly limiter: KitLimiter;
  readonly metrics: Metrics;
  readonly readiness = new Readiness();
  readonly audit?: AuditLog;
  private readonly failureThrottle = new FailureThrottle();
  private services?: ScimServices;
  private bootstrapping?: Promise<void>;
  private retryTimer?: TimerHandle;
  private http?: ScimHttpServer;
  private closing?: Promise<void>;
  private readonly redis?: RedisLink;
  private readonly clock: Clock;

  constructor(private readonly options: ServiceOptions) {
    const { config, logger } = options;
    if (!config.kit.credentials)
      throw new Error('Service needs Kit credentials (main.ts starts the sandbox otherwise)');
    this.metrics = options.metrics ?? new Metrics();
    this.audit =
      config.auditLog === 'off' ? undefined : new AuditLog(config.auditLog, { knownSecrets: secretsOf(config) });
    this.clock = options.clock ?? systemClock;
    if (config.redisUrl) {
      // One link for everything shared between replicas; its health is /readyz's `redis` check.
      this.readiness.set('redis', false, 'connecting');
      this.redis = new RedisLink({
        url: config.redisUrl,
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
    const limiterId = limiterIdFor(config.kit.baseUrl, config.kit.credentials);
    this.limiter = createKitLimiter({
      id: limiterId,
      budget: config.kit.ratePerMinute,
      windowMs: config.kit.rateWindowMs,
      clock: this.clock,
      slots: this.redis
        ? sharedSlots(this.redis, {
            id: limiterId,
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
      onQueue: (depth) => this.metrics.limiterQueueDepth.set(labels({ priority: 'all' }), depth),
      onWait: (ms, priority) => this.metrics.limiterWait.observe(labels({ priority }), ms / 1000),
    });
    this.kit = new KitClient({
      baseUrl: config.kit.baseUrl,
      credentials: config.kit.credentials,
      limiter: this.limiter,
      timeoutMs: config.kit.timeoutMs,
      maxWaitMs: config.kit.maxWaitMs,
      tokenStore: this.tokenStore(config),
      onCall: (rec: KitCallRecord) => {
        this.metrics.recordKitCall(rec);
        recordKitCallInScope(rec);
        if (rec.status === 401 || rec.status === 403) this.readiness.set('kit', false, 'Kit rejected the credentials');
        // Kit accepting a call again (the credentials were fixed, an OAuth token refreshed): ready again.
        else if (typeof rec.status === 'number' && rec.status >= 200 && rec.status < 300 && !this.kitReady()) {
          this.readiness.set('kit', true);
        }
      },
    });
    this.readiness.set('kit', false, 'not checked yet');
    this.readiness.set('customFields', false, 'not bootstrapped yet');
    this.app = createApp({
      services: () => this.scim(),
      authenticator: new Authenticator({ bearerTokens: config.scim.bearerTokens, jwt: config.scim.jwt }),
      failureThrottle: this.failureThrottle,
      ipAllowlist: config.ipAllowlist ? new IpAllowlist(config.ipAllowlist) : undefined,
      metrics: this.metrics,
      readiness: this.readiness,
      logger,
      audit: this.audit,
      maxBodyBytes: config.scim.maxBodyBytes,
      renderer: config.scim.renderer,
      jwt: Boolean(config.scim.jwt),
      publicUrls: config.publicUrls,
      trustProxy: config.trustProxy,
    });
  }

  private tokenStore(config: Config): TokenStore | undefined {
    const c = config.kit.credentials;
    if (c?.kind !== 'oauth' || !c.tokenStorePath) return undefined;
    if (c.tokenStorePath === 'redis' && this.redis) {
      return new RedisTokenStore(this.redis, { id: limiterIdFor(config.kit.baseUrl, c, 'oauth'), clock: this.clock });
    }
    return new FileTokenStore(c.tokenStorePath);
  }

  private kitReady(): boolean {
    return this.readiness.report().checks.kit?.ok === true;
  }

  /** The SCIM services, or a 503 while the start-up checks against Kit have not passed yet. */
  scim(): ScimServices {
    if (!this.services) {
      if (!this.closing) void this.bootstrap();
      throw new ScimServiceUnavailable(
        'The server has not finished its start-up checks against Kit (credentials, reserved custom fields); see /readyz.',
        5,
      );
    }
    return this.services;
  }

  /**
   * Start-up checks: the credentials (GET /v4/account), the reserved custom fields and the tombstone tag.
   * A server that cannot reach Kit still starts, reports not-ready, and keeps trying in the background.
   */
  bootstrap(): Promise<void> {
    if (this.services || this.closing) return Promise.resolve();
    this.bootstrapping ??= this.runBootstrap().finally(() => {
      this.bootstrapping = undefined;
    });
    return this.bootstrapping;
  }

  private async runBootstrap(): Promise<void> {
    const { config, logger } = this.options;
    try {
      const account = await this.kit.account(BACKGROUND);
      this.readiness.set('kit', true);
      logger.info({ account: account.account?.name }, 'Kit credentials accepted');
      const keys = await this.kit.customFields.ensure(SubscriberFieldMap.labels(), BACKGROUND);
      const fields = new SubscriberFieldMap(keys);
      this.readiness.set('customFields', true);
      const pageStore: PageStore = this.redis
        ? new RedisPageStore(
            this.redis,
            `kscim:${limiterIdFor(config.kit.baseUrl, config.kit.credentials!, 'cache')}:`,
            (err) =>
              logger.warn({ err: { message: err.message } }, 'Redis page cache unavailable; serving without cache'),
            config.pageCache.maxEntries,
          )
        : new MemoryPageStore(config.pageCache.maxEntries);
      const validity = { ttlMs: config.pageCache.ttlSeconds * 1000, generation: () => pageStore.generation('groups') };
      const catalog = new TagCatalog(this.kit, { ...validity, groupPrefix: config.scim.groupTagPrefix });
      const membership = new TagMembership(this.kit, catalog, validity);
      membership.useDeletedTag(await catalog.ensure(DELETED_USERS_TAG, BACKGROUND));
      const pager = new CursorPager(pageStore, { ttlSeconds: config.pageCache.ttlSeconds });
      const users = new UserDirectory({
        kit: this.kit,
        fields,
        pager,
        groups: membership,
        events: this.userEvents(pageStore),
        now: this.options.now,
      });
      const groups = new GroupDirectory({
        kit: this.kit,
        catalog,
        membership,
        fields,
        events: {
          changed: () => pageStore.bumpGeneration('groups'),
          // Count and the first few only: a request may name thousands of ids, each of any length.
          membersSkipped: (groupId, ids) => {
            const { count, first } = summariseIds(ids);
            logger.warn({ groupId, skippedCount: count, skipped: first }, 'group members skipped: not users');
          },
        },
      });
      this.services = { users, groups, membership, catalog, fields, pageStore };
      // Warm the membership index so User.groups on filtered lookups costs no Kit call; background priority.
      membership
        .membershipIndex(BACKGROUND)
        .catch((err) => logger.warn({ err: { message: err.message } }, 'membership index'));
      logger.info('start-up checks passed; serving SCIM');
    } catch (err) {
      const reason = err instanceof KitAuthError ? 'Kit rejected the credentials' : (err as Error).message;
      this.readiness.set(
        'kit',
        !(err instanceof KitAuthError) && this.readiness.report().checks.kit?.ok === true,
        reason,
      );
      logger.error(
        { err: { name: (err as Error).name, message: (err as Error).message } },
        'start-up checks failed; retrying',
      );
      this.clock.clearTimeout(this.retryTimer);
      if (this.closing) return;
      this.retryTimer = this.clock.setTimeout(() => void this.bootstrap(), 5000, { background: true });
    }
  }

  private userEvents(pageStore: PageStore): UserEvents {
    return {
      reactivationRejected: (operation, email) => {
        this.metrics.reactivationRejected.inc(labels({ operation }));
        const scope = currentScope();
        this.audit?.record({
          requestId: scope?.requestId ?? '',
          actor: scope?.principal?.name ?? 'unknown',
          operation: 'reactivationRejected',
          resourceType: 'User',
          outcome: 'failure',
          status: operation === 'create' ? 409 : 400,
          kitCalls: (scope?.kitCalls ?? []).map((c) => ({ endpoint: c.endpoint, status: c.status })),
          detail: `reactivation of ${email} refused: Kit cannot reactivate through its API`,
        });
      },
      deprovisioned: (kind) => this.metrics.deprovisions.inc(labels({ kind })),
      changed: () => pageStore.bumpGeneration('users'),
    };
  }

  async listen(port: number, host: string): Promise<Server> {
    if (this.closing) throw new Error('the service is shutting down');
    const http = createScimHttpServer(this.app);
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

  /**
   * Graceful shutdown, within `config.shutdownTimeoutMs` less a second for the rest of the process:
   * 1. /readyz answers 503, so load balancers stop sending traffic;
   * 2. the listening socket closes, idle keep-alive connections close, requests arriving on open connections
   *    get a retryable 503 with Retry-After;
   * 3. Kit calls waiting in the limiter are given up: their requests answer 503 with Retry-After and nothing
   *    is sent to Kit for them; calls already talking to Kit finish, so no write is cut in half;
   * 4. in-flight requests finish and their connections close; past the deadline, what is left is cut.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const started = this.clock.now();
    const budgetMs = Math.max(500, this.options.config.shutdownTimeoutMs - 1000);
    const remaining = () => budgetMs - (this.clock.now() - started);
    this.clock.clearTimeout(this.retryTimer);
    this.readiness.beginShutdown();
    this.http?.drain();
    if (!(await settlesWithin(this.limiter.stop(), remaining(), this.clock))) {
      this.options.logger.warn('Kit calls still running at the shutdown deadline');
    }
    if (this.http && !(await this.http.closed(remaining()))) {
      this.options.logger.warn('requests still running at the shutdown deadline; their connections were closed');
    }
    await this.audit?.close();
    this.failureThrottle.close();
    await this.redis?.close();
  }
}

/** Whether `p` settled within `ms`; never rejects and leaves no timer behind. */
async function settlesWithin(p: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  let timer: TimerHandle | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
