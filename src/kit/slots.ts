import type { Clock } from '../platform/clock';
import type { ChainableCommander } from 'ioredis';
import { hashTag } from '../platform/redisKeys';
import type { RedisLink } from '../platform/redisLink';
import { KitLimiterUnavailableError } from './errors';

// Where call start times are booked. The limiter asks for one slot at a time and waits until it comes; the
// spacing between consecutive slots (spacing.ts) is what keeps Kit's rolling window.
//
// - LocalSlotBook: one process, in memory.
// - SharedSlotBook: every replica using one Kit credential books from one `next slot` in Redis, by a Lua script
//   that reads Redis's own clock (replicas' clocks may disagree) and answers how long to wait. While Redis is
//   away it books from a local book whose spacing is multiplied by the expected number of replicas: the
//   replicas together then stay within Kit's budget, and provisioning goes on, slower.
//
// Why it heals by construction: the script keeps no registration and needs no settings, only one key. A missing
// key (expired after idling, flushed, Redis restarted empty) is re-created by the next booking; because the
// replicas may still hold slots booked before it went missing, that first booking starts after those
// (`lostStateMs`) instead of at once.

export interface SlotBook {
  /** Books the next start slot; resolves with how many ms from now it begins. */
  book(): Promise<number>;
  /** Holds every sharer's next slots back for `ms` (Kit's Retry-After). */
  pause(ms: number): void;
  /** Whether slots are booked in the shared book right now (false: the local fallback, or local only). */
  readonly shared: boolean;
}

export class LocalSlotBook implements SlotBook {
  private next = 0;
  readonly shared = false;

  constructor(
    private readonly spacingMs: number,
    private readonly clock: Clock,
  ) {}

  book(): Promise<number> {
    return Promise.resolve(this.bookNow());
  }

  /** The slot at or after `notBefore` (epoch ms), booked synchronously. */
  bookNow(notBefore = 0): number {
    const now = this.clock.now();
    const slot = Math.max(now, this.next, notBefore);
    this.next = slot + this.spacingMs;
    return slot - now;
  }

  pause(ms: number): void {
    this.next = Math.max(this.next, this.clock.now() + ms);
  }
}

/** Minutes of booked-slot tallies kept in Redis: the status page's hour. */
export const TALLY_MINUTES = 60;

// KEYS[1] next slot (Redis ms), KEYS[2] pause marker; KEYS[3], KEYS[4] the same two without a hash tag, which
// replicas of the release before cluster support book from: during a rolling upgrade both kinds of replica then
// see each other's slots. In cluster mode KEYS[3], KEYS[4] repeat KEYS[1], KEYS[2] (no such replica can exist
// there: a cluster refused the untagged scripts). ARGV: spacing, ms to wait at least, key ttl, lost-state wait,
// the tally's key prefix. Every replica's every call books exactly one slot here, so a counter per minute of
// Redis's clock (prefix..minute, expiring after the hour) is the fleet's calls per minute for the credential,
// counted once. The minute's key is named inside the script because only Redis knows its own minute; the prefix
// carries the book's hash tag, so in a cluster it lives in the book's slot.
const BOOK_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local earliest = now + tonumber(ARGV[2])
local stored = redis.call('GET', KEYS[1])
local legacy = redis.call('GET', KEYS[3])
local nxt
if stored then nxt = tonumber(stored) else nxt = now + tonumber(ARGV[4]) end
if legacy then nxt = math.max(nxt, tonumber(legacy)) end
local paused = math.max(redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[4]))
if paused > 0 then earliest = math.max(earliest, now + paused) end
local slot = math.max(earliest, nxt)
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', slot - now + tonumber(ARGV[3]))
if legacy and KEYS[3] ~= KEYS[1] then
  redis.call('SET', KEYS[3], slot + tonumber(ARGV[1]), 'PX', slot - now + tonumber(ARGV[3]))
end
local tally = ARGV[5] .. math.floor(slot / 60000)
redis.call('INCR', tally)
redis.call('PEXPIRE', tally, ${(TALLY_MINUTES + 2) * 60_000})
return slot - now`;

// KEYS[1] the book's next-slot key, named only so a cluster routes the script to the book's shard. ARGV: the
// tally's key prefix, minutes. Answers Redis's current minute, then the slots booked in each of the last ARGV[2]
// minutes, oldest first.
const TALLY_LUA = `
local t = redis.call('TIME')
local minute = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / 60000)
local keys = {}
for m = minute - tonumber(ARGV[2]) + 1, minute do keys[#keys + 1] = ARGV[1] .. m end
local counts = redis.call('MGET', unpack(keys))
local out = { minute }
for i = 1, #counts do out[#out + 1] = tonumber(counts[i]) or 0 end
return out`;

// Keeps the longer of the current and the requested pause (KEYS[2]: the untagged marker, see BOOK_LUA).
const PAUSE_LUA = `
for i = 1, #KEYS do
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
  end
end
return 1`;

type ScriptPipeline = ChainableCommander & {
  kscimBookSlot(
    ...args: [next: string, pause: string, legacyNext: string, legacyPause: string, ...argv: Array<number | string>]
  ): ChainableCommander;
};
type ScriptClient = {
  kscimPause(pause: string, legacyPause: string, ms: number): Promise<number>;
  kscimSlotTally(next: string, tallyPrefix: string, minutes: number): Promise<number[]>;
};

export interface SharedSlotBookOptions {
  link: RedisLink;
  /** Names the shared book: limiterIdFor(), the same on every replica using the credential. */
  id: string;
  spacingMs: number;
  windowMs: number;
  clock: Clock;
  /**
   * While Redis is away, each replica books `spacingMs × fallbackReplicas` apart. 0: no fallback; calls fail with
   * KitLimiterUnavailableError (a 503 naming the limiter) until Redis answers.
   */
  fallbackReplicas: number;
  /** How long the book's key outlives its last slot; a missing key is re-created (see above). */
  keyTtlMs?: number;
  /** Slots other replicas may still hold when the shared state was lost; 2 replicas × 1 booked slot ahead. */
  lostStateSlots?: number;
  onFallback?: (usingFallback: boolean, reason: string) => void;
}

export class SharedSlotBook implements SlotBook {
  private readonly fallback: LocalSlotBook;
  private readonly nextKey: string;
  private readonly pauseKey: string;
  private readonly legacyNextKey: string;
  private readonly legacyPauseKey: string;
  private usingFallback = false;
  /** Our own last slot (epoch ms): no booking, shared or not, may come closer to it than the spacing allows. */
  private lastSlotAt = 0;
  private lastSpacingMs = 0;

  constructor(private readonly opts: SharedSlotBookOptions) {
    this.fallback = new LocalSlotBook(opts.spacingMs * Math.max(1, opts.fallbackReplicas), opts.clock);
    ({ next: this.nextKey, pause: this.pauseKey } = slotBookKeys(opts.id));
    const cluster = opts.link.topology.mode === 'cluster';
    this.legacyNextKey = cluster ? this.nextKey : `kscim:limiter:${opts.id}:next`;
    this.legacyPauseKey = cluster ? this.pauseKey : `kscim:limiter:${opts.id}:pause`;
    defineScripts(opts.link.client);
  }

  get shared(): boolean {
    return !this.usingFallback;
  }

  async book(): Promise<number> {
    const { link, clock, spacingMs } = this.opts;
    if (link.healthy) {
      const waitAtLeast = Math.max(0, this.lastSlotAt + this.lastSpacingMs - clock.now());
      try {
        const { replies, replicated } = await link.runReplicated((pipe) =>
          (pipe as ScriptPipeline).kscimBookSlot(
            this.nextKey,
            this.pauseKey,
            this.legacyNextKey,
            this.legacyPauseKey,
            spacingMs,
            Math.ceil(waitAtLeast),
            this.opts.keyTtlMs ?? 24 * 60 * 60_000,
            spacingMs * (this.opts.lostStateSlots ?? 2),
            tallyKeyOf(this.opts.id),
          ),
        );
        // A slot no replica holds is lost if the primary fails now, and a replica promoted without it would hand
        // the same time to another replica: such a slot is not used; this call books from the fallback instead.
        if (!replicated) throw new Error('no Redis replica acknowledged the booked slot (WAIT)');
        this.switchTo(false, 'Redis answers');
        return this.remember(Number(replies[0]), spacingMs);
      } catch (err) {
        this.switchTo(true, (err as Error).message);
      }
    } else {
      this.switchTo(true, link.detail);
    }
    if (this.opts.fallbackReplicas < 1) {
      throw new KitLimiterUnavailableError(link.detail);
    }
    const fallbackSpacing = spacingMs * this.opts.fallbackReplicas;
    return this.remember(this.fallback.bookNow(this.lastSlotAt + fallbackSpacing), fallbackSpacing);
  }

  pause(ms: number): void {
    this.fallback.pause(ms);
    this.opts.link
      .run((c) => (c as unknown as ScriptClient).kscimPause(this.pauseKey, this.legacyPauseKey, Math.ceil(ms)))
      .catch(() => {
        // Redis away: this replica's fallback book holds the pause; the others meet Kit's 429 themselves.
      });
  }

  private remember(delayMs: number, spacingMs: number): number {
    this.lastSlotAt = this.opts.clock.now() + delayMs;
    this.lastSpacingMs = spacingMs;
    return delayMs;
  }

  private switchTo(fallback: boolean, reason: string): void {
    if (this.usingFallback === fallback) return;
    this.usingFallback = fallback;
    this.opts.onFallback?.(fallback, reason);
  }
}

function defineScripts(client: RedisLink['client']): void {
  if ('kscimBookSlot' in client) return;
  // ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, so a Redis restarted empty needs nothing.
  client.defineCommand('kscimBookSlot', { numberOfKeys: 4, lua: BOOK_LUA });
  client.defineCommand('kscimPause', { numberOfKeys: 2, lua: PAUSE_LUA });
  client.defineCommand('kscimSlotTally', { numberOfKeys: 1, lua: TALLY_LUA });
}

/** The prefix of one credential's per-minute tallies, in the book's cluster slot. */
const tallyKeyOf = (id: string) => `kscim:limiter:${hashTag(id)}:minute:`;

/** Slots booked in one minute by every replica sharing a limiter. */
export interface BookedMinute {
  /** Epoch ms of the minute's start, on Redis's clock. */
  startsAt: number;
  booked: number;
}

/**
 * The shared book's tally for limiter `id`: slots booked per minute over the last TALLY_MINUTES minutes, oldest
 * first, by every replica (each booked slot is one call sent, or withdrawn unsent before its time).
 */
export async function bookedPerMinute(link: RedisLink, id: string): Promise<BookedMinute[]> {
  defineScripts(link.client);
  const answer = await link.run((c) =>
    (c as unknown as ScriptClient).kscimSlotTally(slotBookKeys(id).next, tallyKeyOf(id), TALLY_MINUTES),
  );
  const [current, ...counts] = answer.map(Number);
  return counts.map((booked, i) => ({ startsAt: (current - TALLY_MINUTES + 1 + i) * 60_000, booked }));
}

/** The keys of one credential's shared book, tagged to one cluster slot (redisKeys.ts). */
export function slotBookKeys(id: string): { next: string; pause: string } {
  const tag = hashTag(id);
  return { next: `kscim:limiter:${tag}:next`, pause: `kscim:limiter:${tag}:pause` };
}

/** The limiter's `slots` option for a book shared through `link` (the limiter supplies spacing and clock). */
export function sharedSlots(
  link: RedisLink,
  opts: Omit<SharedSlotBookOptions, 'link' | 'spacingMs' | 'clock'>,
): (spacingMs: number, clock: Clock) => SlotBook {
  return (spacingMs, clock) => new SharedSlotBook({ ...opts, link, spacingMs, clock });
}
