import type { Config } from '../config';
import type { KitApi } from '../kit/api';
import type { RedisLink } from '../redis/redisLink';
import type { ChangeJournal } from './journal/changeJournal';
import { MemoryJournal } from './journal/memoryJournal';
import { RedisJournal } from './journal/redisJournal';
import { type LookupSnapshot, MemoryLookupSnapshot, RedisLookupSnapshot } from './lookupSnapshot';
import { type MirrorReads, SubscriberLookups } from './subscriberLookups';

// Builds issue #13's parts from the config, for the composition root: the change journal, the lookup
// snapshot and the lookups that use them (and the mirror, when there is one). In Redis when there is a link
// (shared by every replica), in memory otherwise.

export interface ChangeTracking {
  journal: ChangeJournal;
  snapshot?: LookupSnapshot;
  lookups: SubscriberLookups;
}

export interface ChangeTrackingOptions {
  config: Config;
  kit: KitApi;
  redis?: RedisLink;
  /** Key prefix in Redis, unique per Kit account. */
  prefix: string;
  now: () => number;
  mirror?: MirrorReads;
}

export function buildChangeTracking(o: ChangeTrackingOptions): ChangeTracking {
  const { changes } = o.config;
  const journal: ChangeJournal = o.redis
    ? new RedisJournal(o.redis, o.prefix, { now: o.now, maxSubscribers: changes.journalMaxSubscribers })
    : new MemoryJournal({ now: o.now, maxSubscribers: changes.journalMaxSubscribers });
  const ttlMs = changes.lookupSnapshotSeconds * 1000;
  const snapshot: LookupSnapshot | undefined =
    ttlMs <= 0
      ? undefined
      : o.redis
        ? new RedisLookupSnapshot(o.redis, `${o.prefix}snap:`, ttlMs)
        : new MemoryLookupSnapshot(ttlMs, o.now);
  return { journal, snapshot, lookups: new SubscriberLookups({ kit: o.kit, snapshot, mirror: o.mirror }) };
}
