import type { RedisLink } from '../../platform/redisLink';

// Durable last-modified stamps of Groups. A Kit tag holds only its id, name and creation time, so nothing in
// Kit moves when a group is renamed or its membership changes: an IGA delta read (`meta.lastModified gt T`)
// would never see a changed group. The server keeps, per group, the time it last learned of a change and a
// digest of what it last saw (name, and the member ids when they were read):
// - its own writes (create, PUT, PATCH) stamp the group at once;
// - a read that finds another name, or other members, than the digest it kept (a rename or a tagging done in
//   Kit) stamps it at the time of that read, the earliest time the server can vouch for;
// - a group seen for the first time becomes the baseline (its lastModified stays its creation).

export interface GroupStamp {
  /** When the server learned of the latest change (ms since the epoch); 0: none since the baseline. */
  at: number;
  /** Counts the changes seen; part of the Group's version. */
  version: number;
}

/** What one read saw of a group: its name, and the digest of its member ids when they were read. */
export interface GroupSight {
  id: number;
  name: string;
  members?: string;
}

interface Kept extends GroupStamp {
  name: string;
  members?: string;
}

export interface GroupStamps {
  /**
   * Compares what a read saw with what was kept and returns the stamps. `written`: the sights are the server's
   * own writes (stamped at `at` whatever they show). A member digest absent from a sight keeps the one kept,
   * unless `written` (a write the caller did not read back leaves the membership to be learned anew).
   */
  settle(sights: GroupSight[], at: number, written?: boolean): Promise<Map<number, GroupStamp>>;
}

function settleOne(kept: Kept | undefined, sight: GroupSight, at: number, written: boolean): Kept {
  if (written) {
    return { at, version: (kept?.version ?? 0) + 1, name: sight.name, members: sight.members };
  }
  if (!kept) return { at: 0, version: 0, name: sight.name, members: sight.members };
  const renamed = kept.name !== sight.name;
  const regrouped = sight.members !== undefined && kept.members !== undefined && kept.members !== sight.members;
  if (renamed || regrouped) {
    return { at, version: kept.version + 1, name: sight.name, members: sight.members ?? kept.members };
  }
  return { ...kept, members: sight.members ?? kept.members };
}

function same(a: Kept | undefined, b: Kept): boolean {
  return a !== undefined && a.at === b.at && a.name === b.name && a.members === b.members;
}

/** One process's stamps (no REDIS_URL): lost on restart, when every group reads as its creation again. */
export class MemoryGroupStamps implements GroupStamps {
  private readonly kept = new Map<number, Kept>();

  async settle(sights: GroupSight[], at: number, written = false): Promise<Map<number, GroupStamp>> {
    const out = new Map<number, GroupStamp>();
    for (const s of sights) {
      const next = settleOne(this.kept.get(s.id), s, at, written);
      this.kept.set(s.id, next);
      out.set(s.id, { at: next.at, version: next.version });
    }
    return out;
  }
}

/**
 * Stamps shared by every replica and kept across restarts: one Redis hash (`groups:stamps` under the
 * account's prefix), group id → the kept JSON. Read and changed in one pass per request.
 */
export class RedisGroupStamps implements GroupStamps {
  private readonly key: string;

  constructor(
    private readonly link: RedisLink,
    prefix: string,
  ) {
    this.key = `${prefix}groups:stamps`;
  }

  async settle(sights: GroupSight[], at: number, written = false): Promise<Map<number, GroupStamp>> {
    const out = new Map<number, GroupStamp>();
    if (sights.length === 0) return out;
    const ids = sights.map((s) => String(s.id));
    let raw: Array<string | null>;
    try {
      raw = await this.link.run((c) => c.hmget(this.key, ...ids));
    } catch {
      // Stamps that cannot be read say "changed now": a delta read shows a group once more, never misses it.
      for (const s of sights) out.set(s.id, { at, version: -1 });
      return out;
    }
    const changed: string[] = [];
    sights.forEach((s, i) => {
      const before = parseKept(raw[i]);
      const next = settleOne(before, s, at, written);
      if (!same(before, next)) changed.push(String(s.id), JSON.stringify(next));
      out.set(s.id, { at: next.at, version: next.version });
    });
    if (changed.length > 0) {
      try {
        await this.link.run((c) => c.hset(this.key, ...changed));
      } catch {
        // Not kept: the next read compares with the older digest and stamps the change then.
      }
    }
    return out;
  }
}

function parseKept(raw: string | null | undefined): Kept | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<Kept>;
    if (typeof v.at !== 'number' || typeof v.name !== 'string') return undefined;
    return { at: v.at, version: typeof v.version === 'number' ? v.version : 0, name: v.name, members: v.members };
  } catch {
    return undefined;
  }
}
