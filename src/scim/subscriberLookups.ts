import type { KitApi } from '../kit/api';
import type { CallOptions, Subscriber } from '../kit/types';
import type { LookupSnapshot } from './lookupSnapshot';

// Where the Users resource reads one subscriber from, cheapest first:
// 1. the subscriber mirror, while it is complete (0 Kit calls; src/scim/mirror);
// 2. for a write, the snapshot of the IdP's lookup a few seconds ago (0 Kit calls; lookupSnapshot.ts);
// 3. Kit (1 call), whose answer becomes the snapshot for the write that usually follows.
// Every subscriber the server writes is handed back through `learned`, so neither source lags behind the
// server's own writes.

/** Why a subscriber is read: to answer the IdP, or just before writing it. */
export type ReadPurpose = 'answer' | 'beforeWrite';

/** The subscriber mirror as the lookups see it (src/scim/mirror/subscriberMirror.ts). */
export interface MirrorReads {
  /** Whether the mirror holds every subscriber right now (built, not stale, its store reachable). */
  complete(): Promise<boolean>;
  byEmail(email: string): Promise<Subscriber | null | undefined>;
  byId(id: number): Promise<Subscriber | null | undefined>;
  learned(sub: Subscriber): Promise<void>;
}

export interface SubscriberLookupsDeps {
  kit: KitApi;
  snapshot?: LookupSnapshot;
  mirror?: MirrorReads;
}

export class SubscriberLookups {
  constructor(private readonly deps: SubscriberLookupsDeps) {}

  /** The subscriber with this email (any state), or null. */
  async byEmail(email: string, purpose: ReadPurpose, opts: CallOptions): Promise<Subscriber | null> {
    const fromMirror = await this.fromMirror(() => this.deps.mirror!.byEmail(email));
    if (fromMirror !== undefined) return fromMirror;
    if (purpose === 'beforeWrite' && this.deps.snapshot) {
      const recalled = await this.deps.snapshot.recallEmail(email);
      if (recalled !== undefined) return recalled;
    }
    const found = await this.deps.kit.subscribers.findByEmail(email, opts);
    await this.deps.snapshot?.rememberEmail(email, found);
    return found;
  }

  /** The subscriber with this id, or null when Kit has none. */
  async byId(id: number, purpose: ReadPurpose, opts: CallOptions): Promise<Subscriber | null> {
    const fromMirror = await this.fromMirror(() => this.deps.mirror!.byId(id));
    if (fromMirror !== undefined) return fromMirror;
    if (purpose === 'beforeWrite' && this.deps.snapshot) {
      const recalled = await this.deps.snapshot.recallId(id);
      if (recalled !== undefined) return recalled;
    }
    // Only "no such subscriber" is an answer (null); any other failure stays one (never read as a deletion).
    const sub = await this.deps.kit.subscribers.find(id, opts);
    if (sub) await this.deps.snapshot?.remember(sub);
    return sub;
  }

  /** A subscriber as Kit echoed the server's own write. */
  async learned(sub: Subscriber): Promise<void> {
    await this.deps.snapshot?.remember(sub);
    await this.deps.mirror?.learned(sub);
  }

  /** A write whose outcome is unknown (it failed midway): nothing remembered about it may be reused. */
  async forget(keys: { email?: string; id?: number }): Promise<void> {
    await this.deps.snapshot?.forget(keys);
  }

  private async fromMirror<T>(read: () => Promise<T | null | undefined>): Promise<T | null | undefined> {
    const mirror = this.deps.mirror;
    if (!mirror || !(await mirror.complete())) return undefined;
    try {
      return await read();
    } catch {
      return undefined; // the mirror's store failed: ask Kit
    }
  }
}
