import { releaseLease, renewLease } from '../../platform/redisLease';
import type { RedisLink } from '../../platform/redisLink';
import type { Subscriber } from '../../kit/types';
import {
  type MirrorRecord,
  type PutResult,
  type MirrorIndexKeys,
  type MirrorPage,
  type MirrorStatus,
  type MirrorStore,
  normalEmail,
  normalName,
  parseRecords,
} from './mirrorStore';
import type { TimeSlices } from '../paging/timeSlices';

// One mirror for every replica (REDIS_URL), under the service's prefix:
//   m:rec    hash  id -> record JSON          m:ids  sorted set of ids (score = id), for paging
//   m:email  hash  email -> id               m:ext  hash externalId -> id      m:uname  hash userName -> id
//   m:complete     time (ms) of the last full walk, absent while the mirror cannot be trusted
//   m:walker       which replica is walking (SET NX PX), so one walk serves them all
// Every operation goes through the RedisLink: while Redis is away they fail at once and the mirror answers
// nothing (reads go to Kit). A Redis restarted empty has no m:complete, so it is walked again before use.

export class RedisMirrorStore implements MirrorStore {
  private readonly k: Record<'rec' | 'ids' | 'email' | 'ext' | 'uname' | 'complete' | 'walker', string>;

  constructor(
    private readonly link: RedisLink,
    prefix: string,
    private readonly keys: MirrorIndexKeys,
    /** Every key expires this long after the last completed walk (a retired service leaves nothing behind). */
    private readonly idleTtlMs = 86_400_000,
  ) {
    const p = `${prefix}m:`;
    this.k = {
      rec: `${p}rec`,
      ids: `${p}ids`,
      email: `${p}email`,
      ext: `${p}ext`,
      uname: `${p}uname`,
      complete: `${p}complete`,
      walker: `${p}walker`,
    };
  }

  async status(): Promise<MirrorStatus> {
    const raw = await this.link.run((c) => c.get(this.k.complete));
    if (raw === null) return {};
    const [at, max] = raw.split(':').map(Number);
    return { completeAt: at, walkedMaxId: max };
  }

  async markComplete(at: number, walkedMaxId: number): Promise<void> {
    await this.link.run(async (c) => {
      const m = c.multi().set(this.k.complete, `${at}:${walkedMaxId}`);
      for (const key of [this.k.rec, this.k.ids, this.k.email, this.k.ext, this.k.uname, this.k.complete])
        m.pexpire(key, this.idleTtlMs);
      await m.exec();
    });
  }

  async markIncomplete(): Promise<void> {
    await this.link.run((c) => c.del(this.k.complete));
  }

  async get(id: number): Promise<Subscriber | undefined> {
    const raw = await this.link.run((c) => c.hget(this.k.rec, String(id)));
    return raw === null ? undefined : (JSON.parse(raw) as Subscriber);
  }

  async getMany(ids: number[], slices?: TimeSlices): Promise<Array<Subscriber | undefined>> {
    if (ids.length === 0) return [];
    const raw = await this.link.run((c) => c.hmget(this.k.rec, ...ids.map(String)));
    return parseRecords(raw, slices);
  }

  async idByEmail(email: string): Promise<number | undefined> {
    return this.index(this.k.email, normalEmail(email));
  }

  async idByExternalId(value: string): Promise<number | undefined> {
    return this.index(this.k.ext, value);
  }

  async idByUserName(value: string): Promise<number | undefined> {
    return this.index(this.k.uname, normalName(value));
  }

  async put(subs: Subscriber[], readAt: number): Promise<PutResult[]> {
    if (subs.length === 0) return [];
    const before = (await this.getMany(subs.map((s) => s.id))) as Array<MirrorRecord | undefined>;
    // Read-then-write, not atomic: two replicas storing the same subscriber within a millisecond may keep the
    // older read; the next webhook, write or walk corrects it.
    const results: PutResult[] = before.map((old) => ({ before: old, stored: !old || (old.seenAt ?? 0) <= readAt }));
    await this.link.run(async (c) => {
      const m = c.multi();
      subs.forEach((sub, i) => {
        const old = before[i];
        if (!results[i].stored) return;
        if (old) {
          // Stale index entries go; a read would reject them anyway (the record no longer carries the value).
          if (normalEmail(old.email_address) !== normalEmail(sub.email_address))
            m.hdel(this.k.email, normalEmail(old.email_address));
          const oldExt = old.fields[this.keys.externalId];
          if (oldExt && oldExt !== sub.fields[this.keys.externalId]) m.hdel(this.k.ext, oldExt);
          const oldName = old.fields[this.keys.userName];
          if (oldName && oldName !== sub.fields[this.keys.userName]) m.hdel(this.k.uname, normalName(oldName));
        }
        m.hset(this.k.rec, String(sub.id), JSON.stringify({ ...sub, seenAt: readAt }));
        m.zadd(this.k.ids, sub.id, String(sub.id));
        m.hset(this.k.email, normalEmail(sub.email_address), String(sub.id));
        const ext = sub.fields[this.keys.externalId];
        if (ext) m.hset(this.k.ext, ext, String(sub.id));
        const name = sub.fields[this.keys.userName];
        if (name) m.hset(this.k.uname, normalName(name), String(sub.id));
      });
      const out = (await m.exec()) ?? [];
      for (const [err] of out) if (err) throw err;
    });
    return results;
  }

  async page(after: number | null, limit: number, order: 'asc' | 'desc', slices?: TimeSlices): Promise<MirrorPage> {
    const ids = await this.link.run((c) =>
      order === 'asc'
        ? c.zrangebyscore(this.k.ids, after === null ? '-inf' : `(${after}`, '+inf', 'LIMIT', 0, limit + 1)
        : c.zrevrangebyscore(this.k.ids, after === null ? '+inf' : `(${after}`, '-inf', 'LIMIT', 0, limit + 1),
    );
    const more = ids.length > limit;
    const slice = ids.slice(0, limit).map(Number);
    const items = (await this.getMany(slice, slices)).filter((s): s is Subscriber => s !== undefined);
    return { items, next: more ? slice[slice.length - 1] : null };
  }

  async count(): Promise<number> {
    return this.link.run((c) => c.hlen(this.k.rec));
  }

  async bytes(): Promise<number> {
    return this.link.run(async (c) => {
      let n = 0;
      for (const key of [this.k.rec, this.k.ids, this.k.email, this.k.ext, this.k.uname]) {
        n += Number((await c.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      }
      return n;
    });
  }

  async claimWalk(holder: string, ttlMs: number): Promise<boolean> {
    if (await renewLease(this.link, this.k.walker, holder, ttlMs)) return true;
    return (await this.link.run((c) => c.set(this.k.walker, holder, 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async releaseWalk(holder: string): Promise<void> {
    await releaseLease(this.link, this.k.walker, holder);
  }

  private async index(key: string, value: string): Promise<number | undefined> {
    const raw = await this.link.run((c) => c.hget(key, value));
    return raw === null ? undefined : Number(raw);
  }
}
