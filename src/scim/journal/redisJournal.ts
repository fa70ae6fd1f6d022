import type { Logger } from 'pino';
import type { SubscriberState } from '../../kit/types';
import type { Clock } from '../../platform/clock';
import { LocalSpool } from '../../platform/localSpool';
import type { RedisLink } from '../../platform/redisLink';
import {
  type ChangeJournal,
  ChangeListeners,
  INTENT_TTL_MS,
  type IntentTarget,
  intentKey,
  JournalUnavailableError,
  type JournalView,
  type LearnedFrom,
  type ObservedSubscriber,
  OwnWritePendingError,
  type SubscriberChange,
} from './changeJournal';

// The journal shared by every replica (REDIS_URL). Three keys under the service's prefix:
// - `journal:latest`, a sorted set: subscriber id scored by the time of its latest change (O(1) per lookup);
// - `journal:feed`, a sorted set of the changes themselves, scored by time (the feed `read` pages through);
// - `journal:intent:<id:n | email:e>`: the server's write-ahead intents, each expiring on its own;
// - `journal:horizon`: from when the journal is complete. Created at first use; a Redis restarted empty (or
//   FLUSHALL) creates it again at that moment, so a lost journal reads as "anything not active may have changed
//   just now", never as "nothing changed".
// Both sets are capped; forgetting the oldest subscriber moves the horizon to its time. All of it in one Lua
// script, so concurrent replicas never interleave a trim with a record.
//
// While Redis cannot be reached, the server's own writes recorded on this replica wait in a local spool (platform/localSpool.ts,
// in the security events' spool directory when one is set) and are recorded in Redis when it answers again,
// oldest first, each with the time it was made: so in order per subscriber. Once anything is spooled, every
// later change waits behind it. Until they are moved, this replica's reads (view, lastState, read) fold them in,
// so the replica that made a write answers its meta.lastModified. A spooled change moved twice (a crash between
// the move and the spool file's rewrite) is the same feed member (the whole entry, its sequence `n` included):
// kept once.
// Write-ahead intents are not spooled: while Redis is away they are kept in this process only (they expire
// after INTENT_TTL_MS anyway), so only a delivery to this replica recognizes them. Changes learned from Kit
// (deliveries, observed states) are not spooled: telling a change from the server's own write or from a
// baseline needs the shared states and intents, so they are decided again once Redis answers. A replayed change
// never sets a subscriber's last state back past a later one another replica recorded meanwhile.

/**
 * A journal no replica has written to or read through for this long is dropped by Redis (a service retired, a
 * test run): a journal that expired reads like a flushed one (a new horizon), never as "nothing changed".
 */
const JOURNAL_IDLE_TTL_MS = 30 * 86_400_000;

const RECORD_LUA = `
redis.call('SET', KEYS[3], ARGV[3], 'NX')
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[8] ~= '' and tonumber(ARGV[8]) > tonumber(prev or '0') and tonumber(ARGV[8]) > tonumber(redis.call('GET', KEYS[3])) then
  return 0
end
if ARGV[9] == '1' and ARGV[7] ~= '' and redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[7] then return 2 end
if ARGV[7] ~= '' and ((not prev) or tonumber(prev) <= tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[7])
end
if (not prev) or tonumber(prev) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[6])
local fn = redis.call('ZCARD', KEYS[2])
if fn > tonumber(ARGV[5]) then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, fn - tonumber(ARGV[5]) - 1) end
local n = redis.call('ZCARD', KEYS[1])
if n > tonumber(ARGV[4]) then
  local popped = redis.call('ZPOPMIN', KEYS[1], n - tonumber(ARGV[4]))
  local last = tonumber(popped[#popped])
  local h = tonumber(redis.call('GET', KEYS[3]))
  if last > h then redis.call('SET', KEYS[3], popped[#popped]) end
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ${JOURNAL_IDLE_TTL_MS}) end
return 1`;

// Observed states in one pass. A state other than the one known is a change; so is a subscriber seen for the
// first time in a state other than active (it became so at some time the journal never saw: now is the only
// time it can vouch for; a first sighting claims no change, see SubscriberChange.firstSeen). A change the
// server's own write explains until its entry arrives (changeJournal.ts, LearnedFrom) is left alone, baseline
// included. Changes are recorded here, as RECORD_LUA would, and returned (id, state, first-seen triples) for
// the listeners; the rest become baselines. The state hash is capped: past the cap it is dropped and the
// horizon moves to now (a later change of a forgotten subscriber might go unseen otherwise). Both scripts
// compare an own write's time with RECORD_LUA's rule: newer than the subscriber's latest entry and the horizon.
const OBSERVE_LUA = `
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local changed = {}
for i = 5, #ARGV, 4 do
  local id, st, stamp, own = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local known = redis.call('HGET', KEYS[1], id)
  local pending = false
  if known and known ~= st and own ~= '' then
    pending = tonumber(own) > tonumber(redis.call('ZSCORE', KEYS[3], id) or '0')
      and tonumber(own) > tonumber(redis.call('GET', KEYS[2]))
  end
  if known ~= st and not pending then
    redis.call('HSET', KEYS[1], id, st)
    if known or st ~= 'active' then
      table.insert(changed, id)
      table.insert(changed, st)
      table.insert(changed, known and '0' or '1')
      local prev = redis.call('ZSCORE', KEYS[3], id)
      if (not prev) or tonumber(prev) < tonumber(ARGV[1]) then redis.call('ZADD', KEYS[3], ARGV[1], id) end
      redis.call('ZADD', KEYS[4], ARGV[1], cjson.encode({ subscriberId = tonumber(id), at = tonumber(ARGV[1]),
        kind = 'state', source = 'reread', state = st, firstSeen = (not known) or nil,
        kitStamp = (stamp ~= '') and stamp or nil, n = ARGV[4] .. ':' .. i }))
    end
  end
end
local fn = redis.call('ZCARD', KEYS[4])
if fn > tonumber(ARGV[3]) then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, fn - tonumber(ARGV[3]) - 1) end
local n = redis.call('ZCARD', KEYS[3])
if n > tonumber(ARGV[2]) then
  local popped = redis.call('ZPOPMIN', KEYS[3], n - tonumber(ARGV[2]))
  local last = tonumber(popped[#popped])
  local h = tonumber(redis.call('GET', KEYS[2]))
  if last > h then redis.call('SET', KEYS[2], popped[#popped]) end
end
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1])
end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ${JOURNAL_IDLE_TTL_MS}) end
return changed`;

type JournalClient = {
  kscimJournalObserve(
    states: string,
    horizon: string,
    latest: string,
    feed: string,
    at: string,
    max: string,
    maxFeed: string,
    tag: string,
    ...quadruples: string[]
  ): Promise<string[]>;
  kscimJournalRecord(
    latest: string,
    feed: string,
    horizon: string,
    states: string,
    id: string,
    at: string,
    now: string,
    max: string,
    maxFeed: string,
    json: string,
    state: string,
    ownWriteAt: string,
    learned: string,
  ): Promise<number>;
};

export interface JournalSpoolOptions {
  clock: Clock;
  logger: Logger;
  /** The append-only file; undefined: in memory only (lost if this process stops before Redis returns). */
  file?: string;
  max: number;
  retryMs?: number;
  /** A change that did not fit in the spool (after its log line): a metric and an audit record. */
  onLost: (change: SubscriberChange) => void;
}

export interface RedisJournalOptions {
  now: () => number;
  maxSubscribers: number;
  maxFeed?: number;
  /** Where changes wait while Redis is away; without it a change that cannot be recorded is not kept. */
  spool?: JournalSpoolOptions;
}

/**
 * What became of a record: written; or not, as a write of the server explains it (`ownWriteAt`, LearnedFrom);
 * or not, as the journal already holds the state a change learned from Kit reports (ChangeJournal.record).
 */
type WriteOutcome = 'recorded' | 'ownWritePending' | 'known';

/** A change as the feed holds it: `n` keeps two equal changes apart in the feed set. */
type FeedEntry = SubscriberChange & { n: string };

export class RedisJournal implements ChangeJournal {
  private readonly listeners = new ChangeListeners();
  private seq = 0;
  private readonly keys: { latest: string; feed: string; horizon: string; states: string; intent: string };
  private readonly spool?: LocalSpool<FeedEntry>;
  /** Intents recorded while Redis was away: this process's only. */
  private readonly localIntents = new Map<string, { state: SubscriberState; until: number }>();

  constructor(
    private readonly link: RedisLink,
    prefix: string,
    private readonly opts: RedisJournalOptions,
  ) {
    this.keys = {
      latest: `${prefix}journal:latest`,
      feed: `${prefix}journal:feed`,
      horizon: `${prefix}journal:horizon`,
      states: `${prefix}journal:states`,
      intent: `${prefix}journal:intent:`,
    };
    if (!('kscimJournalRecord' in link.client)) {
      link.client.defineCommand('kscimJournalRecord', { numberOfKeys: 4, lua: RECORD_LUA });
      link.client.defineCommand('kscimJournalObserve', { numberOfKeys: 4, lua: OBSERVE_LUA });
    }
    const spool = opts.spool;
    if (spool)
      this.spool = new LocalSpool<FeedEntry>({
        redis: link,
        clock: spool.clock,
        logger: spool.logger,
        file: spool.file,
        max: spool.max,
        retryMs: spool.retryMs,
        label: 'journal entry',
        messages: {
          moved: 'spooled journal entries recorded in Redis',
          restored: 'journal entries spooled before a restart will be recorded',
        },
        move: async (entry) => {
          await this.write(entry);
        },
        parse: (v) => {
          const e = v as Partial<FeedEntry> | null;
          return e &&
            typeof e.subscriberId === 'number' &&
            typeof e.at === 'number' &&
            typeof e.kind === 'string' &&
            typeof e.source === 'string' &&
            typeof e.n === 'string'
            ? (e as FeedEntry)
            : undefined;
        },
        describe: (e) => ({ subscriberId: e.subscriberId, at: e.at, kind: e.kind, source: e.source }),
        onLost: (e) => spool.onLost(withoutSequence(e)),
      });
  }

  /** Changes waiting for Redis on this replica. */
  get spooled(): number {
    return this.spool?.size ?? 0;
  }

  /** Records every spooled change in Redis, oldest first; stops at the first that cannot be. */
  drain(): Promise<void> {
    return this.spool?.drain() ?? Promise.resolve();
  }

  close(): void {
    this.spool?.close();
  }

  async record(change: SubscriberChange, opts?: { done?: boolean; durable?: boolean } & LearnedFrom): Promise<void> {
    // The sequence keeps two equal changes in the same millisecond apart in the feed set.
    const entry: FeedEntry = { ...change, n: `${process.pid}.${++this.seq}` };
    let reason = 'Redis is unreachable';
    // Behind what waits: recorded after it, so the shared last state is never an older one.
    if (this.spooled > 0) await this.drain();
    if (this.spooled === 0) {
      let outcome: WriteOutcome | undefined;
      try {
        outcome = await this.write(entry, opts?.ownWriteAt);
      } catch (err) {
        reason = (err as Error).message;
      }
      if (outcome === 'ownWritePending') throw new OwnWritePendingError(change.subscriberId);
      if (outcome === 'recorded') this.listeners.emit(change);
      if (outcome !== undefined) return;
    }
    // Only the server's own writes are spooled. A change learned from Kit was decided against a last state the
    // journal could not read meanwhile (and, on another replica, against intents it could not see): its
    // deliverer decides it again once Redis answers (a kept webhook delivery, the next walk or read). A caller
    // that has another way to keep its change (the stamp in Kit) takes it over the spool (ChangeJournal.record).
    const spoolable = this.spool !== undefined && change.source === 'scim' && !opts?.durable;
    if (spoolable && this.spool!.push(entry)) {
      this.listeners.emit(change);
      return;
    }
    // A change made in Kit that nothing records again: its listeners (the security events, which spool while
    // Redis is away) still hear of it. An entry written before its Kit call, or a change learned from Kit, is
    // not passed on: the caller records it again after the call, or Kit's delivery or the next walk brings it.
    if (opts?.done) this.listeners.emit(change);
    throw new JournalUnavailableError(spoolable ? 'Redis is unreachable and the journal spool is full' : reason);
  }

  private async write(entry: FeedEntry, ownWriteAt?: number): Promise<WriteOutcome> {
    const recorded = await this.link.run((c) =>
      (c as unknown as JournalClient).kscimJournalRecord(
        this.keys.latest,
        this.keys.feed,
        this.keys.horizon,
        this.keys.states,
        String(entry.subscriberId),
        String(entry.at),
        // The horizon, if Redis lost the journal meanwhile: it is complete from when it is written again.
        String(this.opts.now()),
        String(this.opts.maxSubscribers),
        String(this.opts.maxFeed ?? this.opts.maxSubscribers),
        JSON.stringify(entry),
        entry.state ?? '',
        ownWriteAt === undefined ? '' : String(ownWriteAt),
        entry.source === 'scim' ? '0' : '1',
      ),
    );
    return recorded === 0 ? 'ownWritePending' : recorded === 2 ? 'known' : 'recorded';
  }

  async observe(subs: ObservedSubscriber[], at: number): Promise<void> {
    if (subs.length === 0) return;
    let changed: string[];
    try {
      changed = await this.link.run((c) =>
        (c as unknown as JournalClient).kscimJournalObserve(
          this.keys.states,
          this.keys.horizon,
          this.keys.latest,
          this.keys.feed,
          String(at),
          String(this.opts.maxSubscribers),
          String(this.opts.maxFeed ?? this.opts.maxSubscribers),
          `${process.pid}.${++this.seq}`,
          ...subs.flatMap((s) => [
            String(s.id),
            s.state,
            s.kitStamp ?? '',
            s.ownWriteAt === undefined ? '' : String(s.ownWriteAt),
          ]),
        ),
      );
    } catch {
      return; // unseen now; view() answers "now" for anything not active while Redis is away
    }
    const stamps = new Map(subs.map((s) => [s.id, s.kitStamp]));
    for (let i = 0; i < changed.length; i += 3) {
      const subscriberId = Number(changed[i]);
      const kitStamp = stamps.get(subscriberId);
      this.listeners.emit({
        subscriberId,
        at,
        kind: 'state',
        source: 'reread',
        state: changed[i + 1] as SubscriberState,
        ...(changed[i + 2] === '1' && { firstSeen: true }),
        ...(kitStamp !== undefined && { kitStamp }),
      });
    }
  }

  async intend(target: IntentTarget, state: SubscriberState, ttlMs = INTENT_TTL_MS): Promise<void> {
    const key = intentKey(target);
    const ms = Math.max(1, Math.round(ttlMs));
    try {
      await this.link.run((c) => c.set(`${this.keys.intent}${key}`, state, 'PX', ms));
      this.localIntents.delete(key);
    } catch {
      const now = this.opts.now();
      for (const [k, intent] of this.localIntents) if (intent.until <= now) this.localIntents.delete(k);
      this.localIntents.set(key, { state, until: now + ms });
    }
  }

  async withdraw(target: IntentTarget): Promise<void> {
    this.localIntents.delete(intentKey(target));
    await this.link.run((c) => c.del(this.intentKey(target))).catch(() => undefined);
  }

  async intended(subscriberId: number, email: string | undefined, state: SubscriberState): Promise<boolean> {
    const targets: IntentTarget[] = [{ subscriberId }, ...(email ? [{ email }] : [])];
    const now = this.opts.now();
    const local = targets.some((t) => {
      const intent = this.localIntents.get(intentKey(t));
      return intent !== undefined && intent.until > now && intent.state === state;
    });
    if (local) return true;
    try {
      const held = await this.link.run((c) => c.mget(...targets.map((t) => this.intentKey(t))));
      return held.some((h) => h === state);
    } catch {
      return false;
    }
  }

  private intentKey(target: IntentTarget): string {
    return `${this.keys.intent}${intentKey(target)}`;
  }

  async lastState(subscriberId: number): Promise<SubscriberState | undefined> {
    const spooled = this.spooledFor([subscriberId]).filter((e) => e.state !== undefined);
    if (spooled.length > 0) return spooled[spooled.length - 1]!.state;
    try {
      return ((await this.link.run((c) => c.hget(this.keys.states, String(subscriberId)))) ?? undefined) as
        SubscriberState | undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * After a Redis failover: changes the old primary acknowledged but never passed to the promoted replica are
   * missing, so the journal is complete only from now (the next incremental read is a full one). Once per
   * failover per replica; a later horizon already set is kept.
   */
  async afterFailover(): Promise<void> {
    const now = String(this.opts.now());
    // Told of the failover as the link turned healthy, the write can still meet the new primary not quite ready:
    // a few tries, each once the link answers again, so the horizon is not left where the old primary had it.
    for (let attempt = 1; ; attempt++) {
      if (await this.moveHorizon(now)) return;
      if (attempt >= 5 || !(await this.link.waitHealthy(2000))) return;
    }
  }

  private async moveHorizon(now: string): Promise<boolean> {
    try {
      await this.link.run((c) =>
        c.eval(
          "local h = tonumber(redis.call('GET', KEYS[1]) or '0') if h < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 1",
          1,
          this.keys.horizon,
          now,
          String(JOURNAL_IDLE_TTL_MS),
        ),
      );
      return true;
    } catch {
      // Redis away again: view() reads a missing horizon as "complete from now" anyway.
      return false;
    }
  }

  async view(subscriberIds: number[]): Promise<JournalView> {
    const now = this.opts.now();
    try {
      const ids = [...new Set(subscriberIds)];
      const [horizonRaw, scores] = await this.link.run(async (c) => {
        const pipe = c.multi();
        pipe.set(this.keys.horizon, String(now), 'NX');
        pipe.get(this.keys.horizon);
        if (ids.length > 0) pipe.zmscore(this.keys.latest, ...ids.map(String));
        const out = (await pipe.exec()) ?? [];
        for (const [err] of out) if (err) throw err;
        return [out[1]?.[1] as string | null, (ids.length > 0 ? out[2]?.[1] : []) as (string | null)[]];
      });
      const at = this.spooledTimes(ids);
      ids.forEach((id, i) => {
        if (scores[i] !== null && scores[i] !== undefined) at.set(id, Math.max(Number(scores[i]), at.get(id) ?? 0));
      });
      return { horizon: horizonRaw === null ? now : Number(horizonRaw), lastChangeOf: (id) => at.get(id) };
    } catch {
      // Cannot prove anything: whatever is not active may have changed just now (never stale-as-fresh); only
      // this replica's own spooled changes are known.
      const at = this.spooledTimes(subscriberIds);
      return { horizon: now, lastChangeOf: (id) => at.get(id) };
    }
  }

  async read(since: number, limit: number): Promise<SubscriberChange[]> {
    const raw = await this.link.run((c) =>
      c.zrangebyscore(this.keys.feed, `(${since}`, '+inf', 'LIMIT', 0, Math.max(0, Math.floor(limit))),
    );
    // This replica's spooled changes belong in the feed too; one moved while this read ran is in both.
    const shared = raw.map((s) => JSON.parse(s) as FeedEntry);
    const seen = new Set(raw);
    const local = (this.spool?.entries() ?? []).filter((e) => e.at > since && !seen.has(JSON.stringify(e)));
    const merged = local.length === 0 ? shared : [...shared, ...local].sort((a, b) => a.at - b.at);
    return merged.slice(0, Math.max(0, Math.floor(limit))).map(withoutSequence);
  }

  private spooledFor(ids: number[]): FeedEntry[] {
    if (!this.spool || this.spool.size === 0) return [];
    const wanted = new Set(ids);
    return this.spool.entries().filter((e) => wanted.has(e.subscriberId));
  }

  private spooledTimes(ids: number[]): Map<number, number> {
    const at = new Map<number, number>();
    for (const e of this.spooledFor(ids)) at.set(e.subscriberId, Math.max(e.at, at.get(e.subscriberId) ?? 0));
    return at;
  }

  subscribe(listener: (change: SubscriberChange) => void): () => void {
    return this.listeners.add(listener);
  }
}

function withoutSequence(entry: FeedEntry): SubscriberChange {
  const { n: _n, ...change } = entry;
  return change;
}
