import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { type Clock, sleepOn, systemClock } from '../platform/clock';
import { releaseLease } from '../platform/redisLease';
import { type RedisLink, RedisUnavailableError } from '../platform/redisLink';
import { KitUnavailableError } from './errors';
import { type OAuthTokens, parseStoredTokens, type TokenStore } from './tokenStore';

// Kit's OAuth pair in Redis, for replicas on several hosts: one refresh at a time across all of them (a lock
// with an owner token and a lease, so a replica that dies mid-refresh frees it), and the rotated pair visible to
// every replica the moment it is saved. The file store (tokenStore.ts) stays the choice for one host.
//
// Failover (sentinel, cluster): a lock or a pair the old primary took but no replica copied is gone after the
// promotion. A lock lost that way would let a second replica refresh with the same refresh token (a fork: Kit
// rotates it, one of the two pairs is dead), so a lock counts as taken only once a replica acknowledged it (WAIT).
// A rotated pair no replica acknowledged is kept here as well and written back if the promoted replica lacks it
// (SET NX: a pair another replica saved since is newer and wins).

export interface RedisTokenStoreOptions {
  /** Names the pair: the same on every replica using the OAuth app (limiterIdFor(..., 'oauth')). */
  id: string;
  /** A refresh holding the lock longer than this loses it (the replica died or hangs). */
  leaseMs?: number;
  /** How long a replica waits for another's refresh before giving up with a retryable error. */
  waitMs?: number;
  clock?: Clock;
}

export class RedisTokenStore implements TokenStore {
  private readonly key: string;
  private readonly lockKey: string;
  private readonly clock: Clock;
  /** A rotated pair Redis did not take (it went away mid-refresh): used here and saved once Redis is back. */
  private unsaved?: OAuthTokens;
  /** `unsaved` reached a primary that no replica acknowledged (it may or may not survive a failover). */
  private unreplicated = false;

  constructor(
    private readonly link: RedisLink,
    private readonly opts: RedisTokenStoreOptions,
  ) {
    this.key = `kscim:oauth:${opts.id}:tokens`;
    this.lockKey = `kscim:oauth:${opts.id}:refresh-lock`;
    this.clock = opts.clock ?? systemClock;
    link.onRecovery(() => void this.saveUnsaved());
  }

  async load(): Promise<OAuthTokens | null> {
    if (this.unsaved && this.link.healthy) await this.saveUnsaved();
    if (this.unsaved) return { ...this.unsaved };
    const text = await this.run((c) => c.get(this.key));
    return text === null ? null : parseStoredTokens(text, 'in Redis');
  }

  async save(tokens: OAuthTokens): Promise<void> {
    try {
      const { replicated } = await this.link.runReplicated((p) => p.set(this.key, JSON.stringify(tokens)));
      this.unsaved = replicated ? undefined : { ...tokens };
      this.unreplicated = !replicated;
    } catch {
      // Kit has already rotated: the old refresh token is dead. Keep the new pair rather than lose it.
      this.unsaved = { ...tokens };
      this.unreplicated = false;
    }
  }

  async exclusive<T>(refresh: () => Promise<T>): Promise<T> {
    const owner = randomBytes(12).toString('hex');
    const leaseMs = this.opts.leaseMs ?? 30_000;
    const deadline = this.clock.now() + (this.opts.waitMs ?? 20_000);
    for (;;) {
      const { replies, replicated } = await this.asKitTrouble(() =>
        this.link.runReplicated((p) => p.set(this.lockKey, owner, 'PX', leaseMs, 'NX')),
      );
      if (replies[0] === 'OK' && replicated) break;
      if (replies[0] === 'OK') await this.release(owner);
      if (this.clock.now() >= deadline) {
        throw new KitUnavailableError('Another replica is refreshing Kit’s OAuth token; retry shortly', {
          retryAfterMs: 2000,
        });
      }
      await sleepOn(this.clock, 50);
    }
    try {
      return await refresh();
    } finally {
      await this.release(owner);
    }
  }

  private async release(owner: string): Promise<void> {
    await releaseLease(this.link, this.lockKey, owner).catch(() => {
      // Redis away: the lease frees the lock.
    });
  }

  /** Redis trouble reaches the client as Kit being unavailable for now (a 503 with Retry-After), nothing else. */
  private run<T>(op: (client: Redis) => Promise<T>): Promise<T> {
    return this.asKitTrouble(() => this.link.run(op));
  }

  private async asKitTrouble<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      throw new KitUnavailableError(`Kit's OAuth tokens are shared through Redis, which is unavailable`, {
        retryAfterMs: 5000,
      });
    }
  }

  private async saveUnsaved(): Promise<void> {
    const pair = this.unsaved;
    if (!pair) return;
    if (!this.unreplicated) return this.save(pair);
    // Written to a primary, unacknowledged: restore it only where a failover lost it.
    try {
      await this.link.run((c) => c.set(this.key, JSON.stringify(pair), 'NX'));
      this.unsaved = undefined;
      this.unreplicated = false;
    } catch {
      // Still away: kept for the next try.
    }
  }
}
