import { hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { SecurityEvents } from '../events';
import type { AuditSink } from '../platform/audit';
import type { Metrics } from '../platform/metrics';
import type { KitApi } from '../kit/api';
import type { RedisLink } from '../platform/redisLink';
import { noteForAudit } from '../platform/requestScope';
import { buildChangeTracking } from './changeTracking';
import type { SubscriberFieldMap } from '../scim/fieldMap';
import { summariseIds } from '../scim/inputLimits';
import { MemoryPageStore, type PageStore } from '../scim/paging/pageStore';
import { RedisPageStore } from '../scim/paging/redisPageStore';
import type { ScimServices } from '../scim/services';
import { buildScimServices } from './scimServices';
import { RedisUserNameClaims } from '../scim/redisUserNameClaims';
import { CURSOR_TIMEOUT_SECONDS, PageCursors } from '../scim/paging/pageCursors';
import type { KitCredentials } from '../config/kitCredentials';

// One tenant's SCIM services, built once its start-up checks against Kit passed: the object graph of
// scim/services.ts with the tenant's caches, change tracking, metrics label and audit trail plugged in.

export interface TenantScimDeps {
  kit: KitApi;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** The tenant's label added to a label set (tenant.ts). */
  labels<T extends Record<string, string>>(extra: T): T;
  audit: AuditSink;
  redis?: RedisLink;
  clock: Clock;
  /** The tenant's Redis key prefix for one namespace (cache, changes). */
  redisPrefix(namespace: string): string;
  /** The status board marks the request's operation as a deprovision. */
  onDeprovisioned?(kind: 'deactivate' | 'delete'): void;
  /** Security events: built by the tenant's bootstrap, possibly after the services. */
  securityEvents(): SecurityEvents | undefined;
}

export function tenantScimServices(d: TenantScimDeps, fieldKeys: Map<string, string>): ScimServices {
  const { config, logger, metrics } = d;
  const pageStore = pageStoreOf(d);
  return buildScimServices({
    kit: d.kit,
    fieldKeys,
    mapping: config.scim.mapping,
    unmapped: config.scim.unmappedAttributes,
    pageStore,
    cacheTtlSeconds: config.pageCache.ttlSeconds,
    filterScanBudget: config.scim.filterScanBudget,
    groupTagPrefix: config.scim.groupTagPrefix,
    now: () => new Date(d.clock.now()),
    cursors: d.kit.capabilities.cursorPaging
      ? new PageCursors(cursorKey(config.kit.baseUrl, config.kit.credentials), {
          ttlSeconds: CURSOR_TIMEOUT_SECONDS,
          now: () => d.clock.now(),
        })
      : undefined,
    changeTracking: (fields) => changeTracking(d, fields, pageStore),
    userNameClaims: d.redis
      ? new RedisUserNameClaims(d.redis, d.redisPrefix('claims'), { clock: d.clock, logger: d.logger })
      : undefined,
    userEvents: {
      reactivationRejected: (operation, email) => {
        metrics.reactivationRejected.inc(d.labels({ operation }));
        d.audit.recordForRequest({
          operation: 'reactivationRejected',
          resourceType: 'User',
          status: operation === 'create' ? 409 : 400,
          detail: `reactivation of ${email} refused: Kit cannot reactivate through its API`,
        });
      },
      deprovisioned: (kind) => {
        metrics.deprovisions.inc(d.labels({ kind }));
        d.onDeprovisioned?.(kind);
      },
      // Named in the audit record of the write itself: the IdP's request succeeded without them.
      unmappedIgnored: (_operation, paths) => noteForAudit(`unmapped attributes ignored: ${paths.join(', ')}`),
      createRaced: (email, subscriberId) => {
        metrics.createRaced.inc(d.labels({}));
        d.audit.recordForRequest({
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
      // Security events: the journal holds subscribers only, so a Group's SCIM write reaches the publisher here.
      written: (write) => d.securityEvents()?.publisher.publishGroup({ ...write, at: d.clock.now() }),
      // Count and the first few only: a request may name thousands of ids, each of any length.
      membersSkipped: (groupId, ids) => {
        const { count, first } = summariseIds(ids);
        logger.warn({ groupId, skippedCount: count, skipped: first }, 'group members skipped: not users');
      },
    },
  });
}

/** The change journal, lookup snapshot and mirror: in Redis when there is a link. */
function changeTracking(d: TenantScimDeps, fields: SubscriberFieldMap, pageStore: PageStore) {
  return buildChangeTracking({
    config: d.config,
    kit: d.kit,
    fields,
    redis: d.redis,
    prefix: d.redisPrefix('changes'),
    now: () => d.clock.now(),
    clock: d.clock,
    // A change learned from Kit makes cached walk pages stale.
    changed: async () => {
      await pageStore.bumpGeneration('users');
    },
    onError: (what, err) => d.logger.warn({ err: { message: err.message } }, `${what} failed`),
    logger: d.logger,
    onJournalLost: (change) => {
      d.metrics.journalLost.inc(d.labels({}));
      d.audit.recordForRequest({
        operation: 'journalEntryLost',
        actor: 'change-journal',
        resourceType: 'User',
        resourceId: String(change.subscriberId),
        status: 507,
        detail: `change journal entry (${change.kind} by ${change.source} at ${new Date(change.at).toISOString()}) for subscriber ${change.subscriberId} lost: Redis unreachable and the journal spool full`,
      });
    },
  });
}

function pageStoreOf(d: TenantScimDeps): PageStore {
  const { config, logger, redis } = d;
  if (!redis) return new MemoryPageStore(config.pageCache.maxEntries, d.clock);
  return new RedisPageStore(
    redis,
    d.redisPrefix('cache'),
    (err) => logger.warn({ err: { message: err.message } }, 'Redis page cache unavailable; serving without cache'),
    config.pageCache.maxEntries,
  );
}

/**
 * The key RFC 9865 cursors are signed with: derived (HKDF-SHA256) from the Kit secret this tenant is configured
 * with, which every replica of it holds and no SCIM client knows, so a cursor issued by one replica is accepted
 * by any other and no key has to be stored or shared. Changing the Kit secret invalidates open cursors (400
 * invalidCursor: the client starts again). An OAuth setup without a client secret has no stable secret (its
 * tokens rotate): it signs with a key of this process, so a cursor is valid on the replica that issued it.
 */
function cursorKey(baseUrl: string, credentials: KitCredentials | undefined): Buffer {
  const secret =
    credentials?.kind === 'apiKey'
      ? credentials.apiKey
      : credentials?.kind === 'v3Secret'
        ? credentials.apiSecret
        : credentials?.clientSecret;
  const material = secret ? Buffer.from(secret) : randomBytes(32);
  return Buffer.from(hkdfSync('sha256', material, baseUrl.replace(/\/+$/, ''), 'convertkit-scim page cursor', 32));
}
