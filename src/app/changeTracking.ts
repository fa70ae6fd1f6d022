import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { KitApi } from '../kit/api';
import type { RedisLink } from '../platform/redisLink';
import { LIFECYCLE_FIELDS, type SubscriberFieldMap } from '../scim/fieldMap';
import type { ChangeJournal, SubscriberChange } from '../scim/journal/changeJournal';
import { MemoryJournal } from '../scim/journal/memoryJournal';
import { RedisJournal } from '../scim/journal/redisJournal';
import { MemoryGroupStamps, RedisGroupStamps } from '../scim/journal/groupStamps';
import { type LookupSnapshot, MemoryLookupSnapshot, RedisLookupSnapshot } from '../scim/lookupSnapshot';
import { MemoryMirrorStore } from '../scim/mirror/memoryMirrorStore';
import type { MirrorStore } from '../scim/mirror/mirrorStore';
import { RedisMirrorStore } from '../scim/mirror/redisMirrorStore';
import { SubscriberMirror } from '../scim/mirror/subscriberMirror';
import { WebhookWatch } from '../scim/mirror/webhookWatch';
import { SubscriberLookups } from '../scim/subscriberLookups';
import type { ChangeTracking } from '../scim/changeTracking';

// Builds the change tracking from the config: in Redis when there is a link (shared by every replica), in
// memory otherwise.

export interface ChangeTrackingOptions {
  config: Config;
  kit: KitApi;
  fields: SubscriberFieldMap;
  redis?: RedisLink;
  /** Key prefix in Redis, unique per Kit account. */
  prefix: string;
  now: () => number;
  clock: Clock;
  /** Cached walk pages must go: the mirror learned a change from Kit. */
  changed: () => Promise<void>;
  onError: (what: string, err: Error) => void;
  logger: Logger;
  /** A change lost while Redis was away (the journal's spool full): a metric and an audit record. */
  onJournalLost: (change: SubscriberChange) => void;
}

/** The journal's spool file beside the security events' one (one per tenant), in a name any file system takes. */
const journalSpoolFileName = (prefix: string) => `${prefix.replace(/[^A-Za-z0-9_-]+/g, '_')}journal-spool.jsonl`;

/** Changes the journal's spool holds at most without a security events configuration naming a bound. */
const DEFAULT_JOURNAL_SPOOL_MAX = 10_000;

export function buildChangeTracking(o: ChangeTrackingOptions): ChangeTracking {
  const { changes } = o.config;
  const stampKey = o.fields.key(LIFECYCLE_FIELDS.lastModified);
  // While Redis is away the journal spools changes in the security events' spool directory (when set) with
  // the same bound; a change past it is lost, and told.
  const spoolDir = o.config.events?.spoolDir;
  const sharedJournal = o.redis
    ? new RedisJournal(o.redis, o.prefix, {
        now: o.now,
        maxSubscribers: changes.journalMaxSubscribers,
        spool: {
          clock: o.clock,
          logger: o.logger,
          file: spoolDir ? join(spoolDir, journalSpoolFileName(o.prefix)) : undefined,
          max: o.config.events?.spoolMax ?? DEFAULT_JOURNAL_SPOOL_MAX,
          onLost: o.onJournalLost,
        },
      })
    : undefined;
  const journal: ChangeJournal =
    sharedJournal ?? new MemoryJournal({ now: o.now, maxSubscribers: changes.journalMaxSubscribers });
  const ttlMs = changes.lookupSnapshotSeconds * 1000;
  const snapshot: LookupSnapshot | undefined =
    ttlMs <= 0
      ? undefined
      : o.redis
        ? new RedisLookupSnapshot(o.redis, `${o.prefix}snap:`, ttlMs)
        : new MemoryLookupSnapshot(ttlMs, o.now);
  let mirror: SubscriberMirror | undefined;
  let mirrorStore: MirrorStore | undefined;
  if (changes.mirror || changes.lookupMirror) {
    // The lookup mirror is the same mirror, walked on demand and trusted for PAGE_CACHE_TTL_SECONDS.
    const onDemand = changes.mirror ? undefined : { freshMs: o.config.pageCache.ttlSeconds * 1000 };
    const indexKeys = {
      externalId: indexKey(o.fields, 'scim_external_id'),
      userName: indexKey(o.fields, 'scim_user_name'),
    };
    const keep = new Set([
      ...o.fields.attributes.map((a) => o.fields.key(a.label)),
      ...Object.values(LIFECYCLE_FIELDS).map((l) => o.fields.key(l)),
    ]);
    mirrorStore = o.redis
      ? new RedisMirrorStore(o.redis, o.prefix, indexKeys, Math.max(86_400_000, 3 * changes.mirrorRefreshMs))
      : new MemoryMirrorStore(indexKeys, () => o.clock.now());
    const kept = [...keep];
    mirror = new SubscriberMirror({
      kit: o.kit,
      store: mirrorStore,
      journal,
      keepFields: keep,
      allFieldKeys: () => kept,
      clock: o.clock,
      now: o.now,
      refreshMs: onDemand ? onDemand.freshMs : changes.mirrorRefreshMs,
      onDemand,
      changed: o.changed,
      onError: o.onError,
      onRecovery: o.redis ? (l) => o.redis!.onRecovery(l) : undefined,
      stampKey,
    });
  }
  // Journal entries and mirror writes are not confirmed by a replica (a WAIT per SCIM write would cost a
  // replication round trip each): after a failover, what the old primary may have kept to itself is repaired.
  o.redis?.onFailover(() => {
    void sharedJournal?.afterFailover();
    void mirror?.rewalkAfterFailover();
  });
  let watch: WebhookWatch | undefined;
  if (mirror && changes.mirror && changes.webhooks) {
    const m = mirror;
    watch = new WebhookWatch({
      clock: o.clock,
      graceMs: changes.webhookSilenceMs,
      link: o.redis,
      key: `${o.prefix}webhooks:heard`,
      onRecovered: () => m.rewalkAfterSilence(),
    });
    mirror.watchWebhooks(watch);
  }
  return {
    journal,
    groupStamps: o.redis ? new RedisGroupStamps(o.redis, o.prefix) : new MemoryGroupStamps(),
    snapshot,
    mirror,
    watch,
    mirrorStore,
    lookups: new SubscriberLookups({ kit: o.kit, snapshot, mirror }),
    stampKey,
    stop: () => sharedJournal?.close(),
  };
}

/**
 * The field key an index of the mirror reads. A mapping file need not map externalId or userName to a reserved
 * field; then no subscriber carries the key below, so that index stays empty (and the lookup mirror, on by
 * default, must not stop the server from starting).
 */
function indexKey(fields: SubscriberFieldMap, label: string): string {
  try {
    return fields.key(label);
  } catch {
    return `unmapped:${label}`;
  }
}
