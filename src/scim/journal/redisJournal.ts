import type { RedisLink } from '../../redis/redisLink';
import {
  type ChangeJournal,
  ChangeListeners,
  JournalUnavailableError,
  type JournalView,
  type SubscriberChange,
} from './changeJournal';

// The journal shared by every replica (REDIS_URL). Three keys under the service's prefix:
// - `journal:latest`, a sorted set: subscriber id scored by the time of its latest change (O(1) per lookup);
// - `journal:feed`, a sorted set of the changes themselves, scored by time (the feed `read` pages through);
// - `journal:horizon`: from when the journal is complete. Created at first use; a Redis restarted empty (or
//   FLUSHALL) creates it again at that moment, so a lost journal reads as "anything not active may have changed
//   just now", never as "nothing changed".
// Both sets are capped; forgetting the oldest subscriber moves the horizon to its time. All of it in one Lua
// script, so concurrent replicas never interleave a trim with a record.

const RECORD_LUA = `
redis.call('SET', KEYS[3], ARGV[3], 'NX')
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
return 1`;

type JournalClient = {
  kscimJournalRecord(
    latest: string,
    feed: string,
    horizon: string,
    id: string,
    at: string,
    now: string,
    max: string,
    maxFeed: string,
    json: string,
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
  private readonly keys: { latest: string; feed: string; horizon: string };

  constructor(
    private readonly link: RedisLink,
    prefix: string,
    private readonly opts: RedisJournalOptions,
  ) {
    this.keys = {
      latest: `${prefix}journal:latest`,
      feed: `${prefix}journal:feed`,
      horizon: `${prefix}journal:horizon`,
    };
    if (!('kscimJournalRecord' in link.client)) {
      link.client.defineCommand('kscimJournalRecord', { numberOfKeys: 3, lua: RECORD_LUA });
    }
  }

  async record(change: SubscriberChange): Promise<void> {
    // The sequence keeps two equal changes in the same millisecond apart in the feed set.
    const json = JSON.stringify({ ...change, n: `${process.pid}.${++this.seq}` });
    try {
      await this.link.run((c) =>
        (c as unknown as JournalClient).kscimJournalRecord(
          this.keys.latest,
          this.keys.feed,
          this.keys.horizon,
          String(change.subscriberId),
          String(change.at),
          String(this.opts.now()),
          String(this.opts.maxSubscribers),
          String(this.opts.maxFeed ?? this.opts.maxSubscribers),
          json,
        ),
      );
    } catch (err) {
      throw new JournalUnavailableError((err as Error).message);
    }
    this.listeners.emit(change);
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
