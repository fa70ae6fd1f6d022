import type { SubscriberState } from '../../kit/types';
import type { RedisLink } from '../../platform/redisLink';
import {
  type ChangeJournal,
  ChangeListeners,
  INTENT_TTL_MS,
  type IntentTarget,
  intentKey,
  JournalUnavailableError,
  type JournalView,
  type ObservedSubscriber,
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

/**
 * A journal no replica has written to or read through for this long is dropped by Redis (a service retired, a
 * test run): a journal that expired reads like a flushed one (a new horizon), never as "nothing changed".
 */
const JOURNAL_IDLE_TTL_MS = 30 * 86_400_000;

const RECORD_LUA = `
redis.call('SET', KEYS[3], ARGV[3], 'NX')
if ARGV[7] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[7]) end
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
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
// time it can vouch for; a first sighting claims no change, see SubscriberChange.firstSeen). Changes are
// recorded here, as RECORD_LUA would, and returned (id, state, first-seen triples) for the listeners; the rest become baselines. The state hash is capped: past the cap it is dropped and the
// horizon moves to now (a later change of a forgotten subscriber might go unseen otherwise).
const OBSERVE_LUA = `
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local changed = {}
for i = 5, #ARGV, 3 do
  local id, st, stamp = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local known = redis.call('HGET', KEYS[1], id)
  if known ~= st then
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
    ...triples: string[]
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
  ): Promise<number>;
};

export interface RedisJournalOptions {
  now: () => number;
  maxSubscribers: number;
  maxFeed?: number;
}

export class RedisJournal implements ChangeJournal {
  private readonly listeners = new ChangeListeners();
  private seq = 0;
  private readonly keys: { latest: string; feed: string; horizon: string; states: string; intent: string };

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
  }

  async record(change: SubscriberChange, opts?: { done?: boolean }): Promise<void> {
    // The sequence keeps two equal changes in the same millisecond apart in the feed set.
    const json = JSON.stringify({ ...change, n: `${process.pid}.${++this.seq}` });
    try {
      await this.link.run((c) =>
        (c as unknown as JournalClient).kscimJournalRecord(
          this.keys.latest,
          this.keys.feed,
          this.keys.horizon,
          this.keys.states,
          String(change.subscriberId),
          String(change.at),
          String(this.opts.now()),
          String(this.opts.maxSubscribers),
          String(this.opts.maxFeed ?? this.opts.maxSubscribers),
          json,
          change.state ?? '',
        ),
      );
    } catch (err) {
      // A change made in Kit that nothing records again: its listeners (the security events, which spool while
      // Redis is away) still hear of it. An entry written before its Kit call, or a change learned from Kit, is
      // not passed on: the caller records it again after the call, or Kit's delivery or the next walk brings it.
      if (opts?.done) this.listeners.emit(change);
      throw new JournalUnavailableError((err as Error).message);
    }
    this.listeners.emit(change);
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
          ...subs.flatMap((s) => [String(s.id), s.state, s.kitStamp ?? '']),
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
    await this.link
      .run((c) => c.set(this.intentKey(target), state, 'PX', Math.max(1, Math.round(ttlMs))))
      .catch(() => undefined);
  }

  async withdraw(target: IntentTarget): Promise<void> {
    await this.link.run((c) => c.del(this.intentKey(target))).catch(() => undefined);
  }

  async intended(subscriberId: number, email: string | undefined, state: SubscriberState): Promise<boolean> {
    const keys = [this.intentKey({ subscriberId }), ...(email ? [this.intentKey({ email })] : [])];
    try {
      const held = await this.link.run((c) => c.mget(...keys));
      return held.some((h) => h === state);
    } catch {
      return false;
    }
  }

  private intentKey(target: IntentTarget): string {
    return `${this.keys.intent}${intentKey(target)}`;
  }

  async lastState(subscriberId: number): Promise<SubscriberState | undefined> {
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
    } catch {
      // Redis away again: view() reads a missing horizon as "complete from now" anyway, and the next failover retries.
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
      const at = new Map<number, number>();
      ids.forEach((id, i) => {
        if (scores[i] !== null && scores[i] !== undefined) at.set(id, Number(scores[i]));
      });
      return { horizon: horizonRaw === null ? now : Number(horizonRaw), lastChangeOf: (id) => at.get(id) };
    } catch {
      // Cannot prove anything: whatever is not active may have changed just now (never stale-as-fresh).
      return { horizon: now, lastChangeOf: () => undefined };
    }
  }

  async read(since: number, limit: number): Promise<SubscriberChange[]> {
    const raw = await this.link.run((c) =>
      c.zrangebyscore(this.keys.feed, `(${since}`, '+inf', 'LIMIT', 0, Math.max(0, Math.floor(limit))),
    );
    return raw.map((s) => {
      const { n: _n, ...change } = JSON.parse(s) as SubscriberChange & { n: string };
      return change;
    });
  }

  subscribe(listener: (change: SubscriberChange) => void): () => void {
    return this.listeners.add(listener);
  }
}
