import type { RedisLink } from '../platform/redisLink';
import type { Subscriber } from '../kit/types';

// What an IdP's lookup just read from Kit, kept for a few seconds (LOOKUP_SNAPSHOT_SECONDS) so the write that
// follows it does not read Kit again. Okta and Entra look a user up by userName and then create it (POST) or
// deactivate it (PATCH /Users/{id}); without it, both read the subscriber twice. Only writes use a
// snapshot: reads (GET) always ask Kit (or the mirror, when complete), so an IdP never reads anything older
// than what it would read without snapshots.
//
// What a snapshot can miss: a change made in Kit within those seconds. For a create, Kit's upsert answers 200
// instead of 201 when someone created the email in between; the server then answers 409 and audits it (the
// upsert has updated that subscriber; see users.ts). For a PATCH, the changes are computed against the
// snapshot, so a value changed in Kit in those seconds to what the IdP also sends is not rewritten.
//
// In Redis (one snapshot for every replica: the IdP's lookup and its write may reach different replicas) when
// REDIS_URL is set, in memory otherwise. Redis down: no snapshot (every write reads Kit, today's cost).

/** null: Kit said no subscriber has that email. */
export type Remembered = Subscriber | null;

export interface LookupSnapshot {
  recallEmail(email: string): Promise<Remembered | undefined>;
  recallId(id: number): Promise<Subscriber | undefined>;
  rememberEmail(email: string, found: Remembered): Promise<void>;
  /** A subscriber as just read or written (both its keys). */
  remember(sub: Subscriber): Promise<void>;
  /** Forget what is known of an email or an id (a write that failed midway). */
  forget(keys: { email?: string; id?: number }): Promise<void>;
}

const emailKey = (email: string) => `e:${email.trim().toLowerCase()}`;
const idKey = (id: number) => `i:${id}`;

export class MemoryLookupSnapshot implements LookupSnapshot {
  private readonly entries = new Map<string, { until: number; value: Remembered }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly maxEntries = 10_000,
  ) {}

  async recallEmail(email: string): Promise<Remembered | undefined> {
    return this.take(emailKey(email));
  }

  async recallId(id: number): Promise<Subscriber | undefined> {
    return this.take(idKey(id)) ?? undefined;
  }

  async rememberEmail(email: string, found: Remembered): Promise<void> {
    this.put(emailKey(email), found);
    if (found) this.put(idKey(found.id), found);
  }

  async remember(sub: Subscriber): Promise<void> {
    this.put(emailKey(sub.email_address), sub);
    this.put(idKey(sub.id), sub);
  }

  async forget(keys: { email?: string; id?: number }): Promise<void> {
    if (keys.email) this.entries.delete(emailKey(keys.email));
    if (keys.id !== undefined) this.entries.delete(idKey(keys.id));
  }

  private take(key: string): Remembered | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  private put(key: string, value: Remembered): void {
    this.entries.delete(key);
    this.entries.set(key, { until: this.now() + this.ttlMs, value });
    // Oldest first: a Map iterates in insertion order.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}

export class RedisLookupSnapshot implements LookupSnapshot {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  async recallEmail(email: string): Promise<Remembered | undefined> {
    return this.get(emailKey(email));
  }

  async recallId(id: number): Promise<Subscriber | undefined> {
    return (await this.get(idKey(id))) ?? undefined;
  }

  async rememberEmail(email: string, found: Remembered): Promise<void> {
    await this.set([[emailKey(email), found], ...(found ? [[idKey(found.id), found] as [string, Remembered]] : [])]);
  }

  async remember(sub: Subscriber): Promise<void> {
    await this.set([
      [emailKey(sub.email_address), sub],
      [idKey(sub.id), sub],
    ]);
  }

  async forget(keys: { email?: string; id?: number }): Promise<void> {
    const names = [keys.email ? emailKey(keys.email) : undefined, keys.id !== undefined ? idKey(keys.id) : undefined]
      .filter((k): k is string => k !== undefined)
      .map((k) => this.prefix + k);
    if (names.length === 0) return;
    try {
      await this.link.run((c) => c.del(...names));
    } catch {
      // Redis away: the snapshot expires on its own within its few seconds.
    }
  }

  private async get(key: string): Promise<Remembered | undefined> {
    try {
      const raw = await this.link.run((c) => c.get(this.prefix + key));
      return raw === null ? undefined : (JSON.parse(raw) as Remembered);
    } catch {
      return undefined; // no snapshot: the write reads Kit
    }
  }

  private async set(pairs: Array<[string, Remembered]>): Promise<void> {
    try {
      await this.link.run(async (c) => {
        const pipe = c.multi();
        for (const [k, v] of pairs) pipe.set(this.prefix + k, JSON.stringify(v), 'PX', this.ttlMs);
        await pipe.exec();
      });
    } catch {
      // Not remembered: the next write reads Kit.
    }
  }
}
