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

// The mirror of one process (no REDIS_URL). Records are JSON strings (V8 keeps them as compact one-byte
// strings; objects would cost several times more), ids in a sorted array for paging.

export class MemoryMirrorStore implements MirrorStore {
  private readonly records = new Map<number, string>();
  private readonly byEmail = new Map<string, number>();
  private readonly byExternalId = new Map<string, number>();
  private readonly byUserName = new Map<string, number>();
  private ids: number[] = [];
  private completeAt?: number;
  private walkedMaxId?: number;
  private walker?: { holder: string; until: number };

  constructor(
    private readonly keys: MirrorIndexKeys,
    private readonly now: () => number = Date.now,
  ) {}

  async status(): Promise<MirrorStatus> {
    return { completeAt: this.completeAt, walkedMaxId: this.walkedMaxId };
  }

  async markComplete(at: number, walkedMaxId: number): Promise<void> {
    this.completeAt = at;
    this.walkedMaxId = walkedMaxId;
  }

  async markIncomplete(): Promise<void> {
    this.completeAt = undefined;
  }

  async get(id: number): Promise<Subscriber | undefined> {
    const raw = this.records.get(id);
    return raw === undefined ? undefined : (JSON.parse(raw) as Subscriber);
  }

  async getMany(ids: number[], slices?: TimeSlices): Promise<Array<Subscriber | undefined>> {
    return parseRecords(
      ids.map((id) => this.records.get(id)),
      slices,
    );
  }

  async idByEmail(email: string): Promise<number | undefined> {
    return this.byEmail.get(normalEmail(email));
  }

  async idByExternalId(value: string): Promise<number | undefined> {
    return this.byExternalId.get(value);
  }

  async idByUserName(value: string): Promise<number | undefined> {
    return this.byUserName.get(normalName(value));
  }

  async put(subs: Subscriber[], readAt: number): Promise<PutResult[]> {
    const results: PutResult[] = [];
    for (const sub of subs) {
      const old = (await this.get(sub.id)) as MirrorRecord | undefined;
      if (old && (old.seenAt ?? 0) > readAt) {
        results.push({ before: old, stored: false });
        continue;
      }
      results.push({ before: old, stored: true });
      if (old) this.unindex(old);
      else this.insertId(sub.id);
      this.records.set(sub.id, JSON.stringify({ ...sub, seenAt: readAt }));
      this.byEmail.set(normalEmail(sub.email_address), sub.id);
      const ext = sub.fields[this.keys.externalId];
      if (ext) this.byExternalId.set(ext, sub.id);
      const name = sub.fields[this.keys.userName];
      if (name) this.byUserName.set(normalName(name), sub.id);
    }
    return results;
  }

  async page(after: number | null, limit: number, order: 'asc' | 'desc', slices?: TimeSlices): Promise<MirrorPage> {
    let slice: number[];
    if (order === 'asc') {
      const start = after === null ? 0 : upperBound(this.ids, after);
      slice = this.ids.slice(start, start + limit);
      const more = start + limit < this.ids.length;
      return {
        items: (await this.getMany(slice, slices)) as Subscriber[],
        next: more ? slice[slice.length - 1] : null,
      };
    }
    const end = after === null ? this.ids.length : lowerBound(this.ids, after);
    const start = Math.max(0, end - limit);
    slice = this.ids.slice(start, end).reverse();
    return {
      items: (await this.getMany(slice, slices)) as Subscriber[],
      next: start > 0 ? slice[slice.length - 1] : null,
    };
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  async bytes(): Promise<number> {
    let n = 0;
    for (const raw of this.records.values()) n += raw.length + 40;
    for (const index of [this.byEmail, this.byExternalId, this.byUserName])
      for (const k of index.keys()) n += k.length + 40;
    return n + this.ids.length * 8;
  }

  async claimWalk(holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if (this.walker && this.walker.until > now && this.walker.holder !== holder) return false;
    this.walker = { holder, until: now + ttlMs };
    return true;
  }

  async releaseWalk(holder: string): Promise<void> {
    if (this.walker?.holder === holder) this.walker = undefined;
  }

  private unindex(old: Subscriber): void {
    const email = normalEmail(old.email_address);
    if (this.byEmail.get(email) === old.id) this.byEmail.delete(email);
    const ext = old.fields[this.keys.externalId];
    if (ext && this.byExternalId.get(ext) === old.id) this.byExternalId.delete(ext);
    const name = old.fields[this.keys.userName];
    if (name && this.byUserName.get(normalName(name)) === old.id) this.byUserName.delete(normalName(name));
  }

  private insertId(id: number): void {
    // Kit's ids grow: almost always an append.
    if (this.ids.length === 0 || id > this.ids[this.ids.length - 1]) this.ids.push(id);
    else this.ids.splice(lowerBound(this.ids, id), 0, id);
  }
}

/** First index whose value is >= x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x. */
function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
