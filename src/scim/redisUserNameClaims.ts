import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, sleepOn, type TimerHandle } from '../platform/clock';
import { releaseLease, renewLease } from '../platform/redisLease';
import type { RedisLink } from '../platform/redisLink';
import { LocalUserNameClaims, type UserNameClaims } from './userNameClaims';

// Claims shared by every replica on one Redis: a lease per name (`<prefix>userName:<sha-256 of the identity
// key>`, SET NX PX), renewed while its write runs and deleted by its holder only (compare and delete). Writes
// of one process queue locally first, so a replica holds at most one lease per name.
//
// Availability over the claim: when Redis cannot be reached, or a lease is still held after `waitMs` (a holder
// that stopped without releasing it; the lease expires after `leaseMs`), the write goes ahead with this
// replica's own claim only, and a log line says so. Two writes of one name on two replicas in that moment can
// then both succeed, as without Redis.

export interface RedisUserNameClaimsOptions {
  clock: Clock;
  logger: Logger;
  /** How long a lease outlives its holder's last renewal. */
  leaseMs?: number;
  /** How long a write waits for another replica's lease before it goes ahead without it. */
  waitMs?: number;
  /** How often a waiting write asks again. */
  pollMs?: number;
}

export class RedisUserNameClaims implements UserNameClaims {
  private readonly local = new LocalUserNameClaims();
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly o: RedisUserNameClaimsOptions,
  ) {
    this.leaseMs = o.leaseMs ?? 30_000;
    this.waitMs = o.waitMs ?? 30_000;
    this.pollMs = o.pollMs ?? 50;
  }

  holding<T>(identityKey: string, work: () => Promise<T>): Promise<T> {
    return this.local.holding(identityKey, async () => {
      const key = `${this.prefix}userName:${createHash('sha256').update(identityKey, 'utf8').digest('hex')}`;
      const token = await this.acquire(key);
      if (token === undefined) return work();
      let renewal: TimerHandle | undefined;
      let held = true;
      const renew = () => {
        renewal = this.o.clock.setTimeout(
          () => {
            void renewLease(this.link, key, token, this.leaseMs)
              .catch(() => undefined)
              .finally(() => {
                if (held) renew();
              });
          },
          this.leaseMs / 3,
          { background: true },
        );
      };
      renew();
      try {
        return await work();
      } finally {
        held = false;
        this.o.clock.clearTimeout(renewal);
        await releaseLease(this.link, key, token).catch(() => undefined);
      }
    });
  }

  /** The lease's token once held; undefined when the write goes ahead without one. */
  private async acquire(key: string): Promise<string | undefined> {
    const token = randomBytes(12).toString('hex');
    const until = this.o.clock.now() + this.waitMs;
    for (;;) {
      let taken: string | null;
      try {
        taken = await this.link.run((c) => c.set(key, token, 'PX', this.leaseMs, 'NX'));
      } catch (err) {
        this.o.logger.warn(
          { err: { message: (err as Error).message } },
          'userName claim not shared: Redis is unreachable; this replica claims it alone',
        );
        return undefined;
      }
      if (taken === 'OK') return token;
      if (this.o.clock.now() >= until) {
        this.o.logger.warn(
          { waitedMs: this.waitMs },
          'userName claim still held by another write; going ahead without it',
        );
        return undefined;
      }
      await sleepOn(this.o.clock, this.pollMs);
    }
  }
}
