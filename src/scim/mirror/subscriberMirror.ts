import { randomBytes } from 'node:crypto';
import { type Clock, sleepOn, type TimerHandle } from '../../platform/clock';
import type { KitApi } from '../../kit/api';
import type { CallOptions, Subscriber } from '../../kit/types';
import { type ChangeJournal, OwnWritePendingError } from '../journal/changeJournal';
import { kitStampOf, learnedFrom, ownWriteAtOf } from '../journal/lastModifiedOverlay';
import type { MirrorReads } from '../subscriberLookups';
import { compact, expand, type MirrorStore, type PutResult } from './mirrorStore';
import type { WebhookWatch } from './webhookWatch';
import { mapInSlices, type TimeSlices, yieldEvery } from '../paging/timeSlices';

// Every subscriber of the Kit account, kept by the server so that IdP lookups, existence checks before a
// create, GET /Users/{id} and list walks cost no Kit call (MIRROR=on). Built by one walk of Kit's subscriber
// pages at background priority (ceil(N/1000) calls), then kept current by
// - the server's own writes (`learned`), as Kit echoes them;
// - Kit's webhooks (`hint`): a delivery names a subscriber; when what it says differs from the mirror, the
//   subscriber is read again from Kit (Kit does not sign webhooks, so a delivery is never believed by itself);
// - a re-walk every MIRROR_REFRESH_MINUTES, which also heals deliveries that were lost; a walk that finds a
//   subscriber in another state than the mirror knew records the change in the journal.
//
// The mirror answers only while it is complete: walked at least once, the last full walk no older than two
// refresh periods, and every write this replica made since reached it. A write that could not reach it (Redis
// down) makes it incomplete until the next walk: answers come from Kit meanwhile, exact at today's cost.
//
// Staleness bounds, while complete: the server's own writes, none; changes made in Kit, the webhook's
// delivery delay (seconds) when webhooks are registered, else up to MIRROR_REFRESH_MINUTES. The one risk: a
// subscriber created in Kit whose webhook was lost is unknown to the mirror until the next walk, so a SCIM
// create with its email is sent to Kit as new; Kit's upsert then answers 200, the server answers 409 and
// audits it (createRaced), but Kit has applied the create's attributes to that subscriber. A GET by id never
// says 404 for such a subscriber: ids above the highest id the mirror holds are asked of Kit.

export interface SubscriberMirrorOptions {
  kit: KitApi;
  store: MirrorStore;
  journal: ChangeJournal;
  /** Field keys the mirror keeps (the reserved scim_* fields). */
  keepFields: ReadonlySet<string>;
  /** Every custom field key of the account, so a mirrored subscriber reads back as Kit would return it. */
  allFieldKeys: () => readonly string[];
  clock: Clock;
  /** The time journal entries carry (the server's clock for meta.lastModified). */
  now?: () => number;
  refreshMs: number;
  /**
   * The lookup mirror, MIRROR=lookups: no walk at start-up and no timer; the first filter Kit cannot answer walks it,
   * and it answers such filters (forFilters) for `freshMs` after that walk, never single reads (complete).
   */
  onDemand?: { freshMs: number };
  /** Something visible changed (state learned from Kit): cached walk pages must go. */
  changed: () => Promise<void>;
  onError?: (what: string, err: Error) => void;
  /** Redis link recovery, so a mirror that missed writes is walked again at once. */
  onRecovery?: (listener: () => void) => void;
  /** The field key of the server's stamp in Kit: it names a state in the journal (SubscriberChange.kitStamp). */
  stampKey?: string;
}

/** What the mirror needs of the webhook watch (set when webhooks are registered). */
export type MirrorWebhookWatch = Pick<WebhookWatch, 'expect' | 'silent'>;

const BACKGROUND: CallOptions = { priority: 'background' };
const PAGE = 1000;
/** How often a lookup waiting for another replica's walk of the lookup mirror looks whether it has ended. */
const OTHER_WALK_POLL_MS = 250;

/** What a webhook hint cost: nothing (the mirror agreed), a Kit read, or nothing because the read was refused. */
export type HintOutcome = 'known' | 'read' | 'refused';

/** How a hint may read Kit: whether the read is granted, and who to tell when it leaves for Kit. */
export interface HintRead {
  admit?: () => boolean;
  onSent?: () => void;
  /**
   * Record what Kit shows even where a write of the server not yet in the journal could explain it
   * (changeJournal.ts, LearnedFrom): the delivery has waited long enough for that write's entry.
   */
  decide?: boolean;
}

/** How a walk request ended: this replica walked, another replica holds the walk, or it could not run. */
type WalkOutcome = 'walked' | 'busy' | 'failed';

export class SubscriberMirror implements MirrorReads {
  private readonly holder = randomBytes(8).toString('hex');
  private timer?: TimerHandle;
  private walking?: Promise<WalkOutcome>;
  /** This replica made a write the mirror missed: not to be trusted until a walk completes after it. */
  private missedSince?: number;
  private stopped = false;
  /** The last walk this replica started failed midway (Kit or Redis away). */
  private lastWalkFailed = false;
  private watch?: MirrorWebhookWatch;

  constructor(private readonly o: SubscriberMirrorOptions) {
    o.onRecovery?.(() => {
      if (this.missedSince !== undefined) void this.distrust();
    });
  }

  /** Walks now, then every refresh period (a lookup mirror walks only when a filter needs it). */
  start(): void {
    if (this.o.onDemand) return;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
  }

  /** Resolves when the walk running now (if any) has ended. */
  async idle(): Promise<void> {
    await this.walking;
  }

  /** With webhooks registered: their silence makes the mirror stop answering (webhookWatch.ts). */
  watchWebhooks(watch: MirrorWebhookWatch): void {
    this.watch = watch;
  }

  /** After webhooks were silent: every replica stops trusting the mirror until a walk has caught up. */
  async rewalkAfterSilence(): Promise<void> {
    await this.distrust();
  }

  /**
   * After a Redis failover: the old primary may have acknowledged mirror writes it never passed to the replica
   * now promoted, so no replica trusts the mirror until a walk has read Kit again.
   */
  async rewalkAfterFailover(): Promise<void> {
    await this.distrust();
  }

  async complete(): Promise<boolean> {
    // A lookup mirror is as fresh as a cached list walk, not as a single read: GET by id and email lookups
    // keep asking Kit.
    if (this.o.onDemand) return false;
    return this.completeWithin(2 * this.o.refreshMs);
  }

  /**
   * Whether filters Kit cannot answer (externalId, displayName, groups.value, ...) may be evaluated over the
   * mirror. A lookup mirror older than its freshness (or never walked) is walked first, once for any number of
   * concurrent lookups on this replica and, through the store's walk claim, for every replica; when another
   * replica holds the claim the answer is false and the caller walks Kit itself (exact, at the old cost).
   */
  async forFilters(): Promise<boolean> {
    const onDemand = this.o.onDemand;
    if (!onDemand) return this.complete();
    if (await this.completeWithin(onDemand.freshMs)) return true;
    // While another replica walks, wait for its walk rather than walk Kit too (that would cost a walk per
    // lookup); its claim is renewed at every page and expires if it dies, so the wait is bounded.
    const giveUpAt = this.o.clock.now() + onDemand.freshMs + 60_000;
    for (;;) {
      const outcome = await this.walk();
      if (await this.completeWithin(onDemand.freshMs)) return true;
      if (outcome !== 'busy' || this.stopped || this.o.clock.now() >= giveUpAt) return false;
      await sleepOn(this.o.clock, OTHER_WALK_POLL_MS);
    }
  }

  private async completeWithin(ms: number): Promise<boolean> {
    if (this.missedSince !== undefined) return false;
    try {
      if (await this.watch?.silent()) return false;
      const { completeAt } = await this.o.store.status();
      return completeAt !== undefined && this.o.clock.now() - completeAt <= ms;
    } catch {
      return false;
    }
  }

  async byEmail(email: string): Promise<Subscriber | null | undefined> {
    const id = await this.o.store.idByEmail(email);
    if (id === undefined) return null;
    const rec = await this.o.store.get(id);
    if (!rec || rec.email_address.toLowerCase() !== email.trim().toLowerCase()) return null;
    return this.out(rec);
  }

  async byId(id: number): Promise<Subscriber | null | undefined> {
    const rec = await this.o.store.get(id);
    if (rec) return this.out(rec);
    // Kit's ids grow: an id the walk has passed and not seen does not exist; a higher one may be a subscriber
    // created since, so Kit is asked (never a 404 for a subscriber the mirror has not met yet).
    const { walkedMaxId } = await this.o.store.status();
    return walkedMaxId !== undefined && id < walkedMaxId ? null : undefined;
  }

  async byExternalId(value: string): Promise<Subscriber | undefined> {
    const id = await this.o.store.idByExternalId(value);
    const rec = id === undefined ? undefined : await this.o.store.get(id);
    return rec ? this.out(rec) : undefined;
  }

  async byUserName(value: string): Promise<Subscriber | undefined> {
    const id = await this.o.store.idByUserName(value);
    const rec = id === undefined ? undefined : await this.o.store.get(id);
    return rec ? this.out(rec) : undefined;
  }

  /** How many subscribers the mirror holds. */
  async size(): Promise<number> {
    return this.o.store.count();
  }

  /** One page of the mirror for a list walk (0 Kit calls), read in `slices` of time (timeSlices.ts). */
  async page(
    after: number | null,
    order: 'asc' | 'desc',
    slices: TimeSlices = yieldEvery(),
  ): Promise<{ items: Subscriber[]; next: number | null }> {
    const p = await this.o.store.page(after, PAGE, order, slices);
    return { items: await mapInSlices(p.items, (s) => this.out(s), slices), next: p.next };
  }

  async learned(sub: Subscriber): Promise<void> {
    const at = this.o.clock.now();
    try {
      const [{ before }] = await this.o.store.put([compact(sub, this.o.keepFields)], at);
      // A new active subscriber or a changed state: Kit will deliver a webhook for it.
      if (before ? before.state !== sub.state : sub.state === 'active') this.watch?.expect();
    } catch (err) {
      this.missed(at, err as Error);
    }
  }

  /**
   * A Kit webhook named this subscriber. When the delivery's subscriber agrees with the mirror, nothing is
   * read (the server's own writes come back as deliveries too); otherwise, when `read.admit` grants it (the
   * re-read budget), the subscriber is read from Kit in the limiter's webhook lane and stored, and a state change
   * goes to the journal. A refused read leaves the mirror as it was: the next walk corrects it. Throws when
   * the hint could not be handled now (Redis or Kit away, the limiter's wait too long): the delivery is kept and
   * hinted again (webhookHints.ts), since Kit will not deliver it twice.
   */
  async hint(subscriberId: number, delivered?: Partial<Subscriber>, read: HintRead = {}): Promise<HintOutcome> {
    let known: Subscriber | undefined;
    try {
      known = await this.o.store.get(subscriberId);
    } catch (err) {
      this.missed(this.o.clock.now(), err as Error);
      throw err;
    }
    if (known && delivered && agrees(known, delivered)) {
      await this.journalAgrees(known, read.decide);
      return 'known';
    }
    if (read.admit && !read.admit()) return 'refused';
    const readAt = this.o.clock.now();
    const fresh = await this.o.kit.subscribers.find(subscriberId, { priority: 'webhook', onSent: read.onSent });
    if (fresh && !(await this.store([fresh], readAt, 'webhook', read.decide)))
      throw new Error('the mirror could not be written');
    // A walk that read the subscriber after this read keeps its newer copy, and a walk records no change: the
    // delivery still tells the journal what Kit now holds.
    if (fresh) await this.journalAgrees(fresh, read.decide);
    return 'read';
  }

  /**
   * A delivery the mirror already agrees with, or whose read a re-walk overtook, may still be news to the journal,
   * which is what security events are made from: after Redis lost its data, a re-walk can store a Kit-side
   * unsubscribe as the mirror's baseline before the delivery that announced it is handled. Kit sends a delivery only for a change (and the server's own
   * writes were recognised by their intents before this), so a state the journal does not hold is recorded as a
   * change learned by the delivery. A journal that cannot answer throws, as does one whose entry for a write of
   * the server has not arrived yet (OwnWritePendingError): the delivery is handled again later.
   */
  private async journalAgrees(known: Subscriber, decide = false): Promise<void> {
    // Not for an active subscriber: after Redis lost its data the intents of the server's own creates are gone
    // too, and their activation deliveries would be announced as activations made in Kit.
    if (known.state === 'active') return;
    if ((await this.o.journal.lastState(known.id)) === known.state) return;
    await this.o.journal.record(
      {
        subscriberId: known.id,
        at: this.o.now ? this.o.now() : this.o.clock.now(),
        kind: 'state',
        source: 'webhook',
        state: known.state,
        ...(this.o.stampKey && { kitStamp: kitStampOf(known, this.o.stampKey) }),
      },
      learnedFrom(known, this.o.stampKey, decide),
    );
    await this.o.changed();
  }

  /**
   * One full walk of Kit's subscribers into the mirror; one replica at a time walks. `due`: only when no
   * replica completed a walk within the refresh period (the timer's walks; a forced one always runs).
   */
  walk(due = false): Promise<WalkOutcome> {
    this.walking ??= this.runWalk(due).finally(() => {
      this.walking = undefined;
    });
    return this.walking;
  }

  private async runWalk(due: boolean): Promise<WalkOutcome> {
    const ttl = Math.max(60_000, this.o.refreshMs);
    try {
      if (!(await this.o.store.claimWalk(this.holder, ttl))) return 'busy';
      // A lookup mirror's walk another replica ended between this replica's look and its claim serves as is.
      if (this.o.onDemand && (await this.completeWithin(this.o.onDemand.freshMs))) {
        await this.o.store.releaseWalk(this.holder);
        return 'walked';
      }
      if (due && this.missedSince === undefined) {
        // Another replica may have just walked (they share the mirror): a second walk would be wasted budget.
        const { completeAt } = await this.o.store.status();
        if (completeAt !== undefined && this.o.clock.now() - completeAt < this.o.refreshMs * 0.9) {
          await this.o.store.releaseWalk(this.holder);
          return 'walked';
        }
      }
    } catch (err) {
      this.o.onError?.('mirror walk claim', err as Error);
      return 'failed';
    }
    const startedAt = this.o.clock.now();
    let walkedMaxId = 0;
    try {
      let after: string | null = null;
      for (;;) {
        const readAt = this.o.clock.now();
        const page = await this.o.kit.subscribers.list(
          { status: 'all', sort_field: 'id', sort_order: 'asc' },
          { after, perPage: PAGE },
          BACKGROUND,
        );
        await this.store(page.items, readAt, 'rewalk');
        for (const s of page.items) walkedMaxId = Math.max(walkedMaxId, s.id);
        await this.o.store.claimWalk(this.holder, ttl);
        if (!page.pagination.has_next_page || !page.pagination.end_cursor) break;
        after = page.pagination.end_cursor;
      }
      // Complete as of the walk's start: what changed in Kit during the walk came as webhooks, or comes with
      // the next walk. A write this replica missed before the walk started is covered by the walk itself.
      if (this.missedSince !== undefined && this.missedSince < startedAt) this.missedSince = undefined;
      await this.o.store.markComplete(startedAt, walkedMaxId);
      this.lastWalkFailed = false;
      return 'walked';
    } catch (err) {
      this.lastWalkFailed = true;
      this.o.onError?.('mirror walk', err as Error);
      return 'failed';
    } finally {
      await this.o.store.releaseWalk(this.holder).catch(() => undefined);
    }
  }

  /**
   * False when the mirror could not be written (then the journal was not either). A change a write of the
   * server explains until its journal entry arrives is left to that entry; a delivery's caller records it again.
   */
  private async store(
    subs: Subscriber[],
    readAt: number,
    source: 'webhook' | 'rewalk',
    decide = false,
  ): Promise<boolean> {
    let results: PutResult[];
    try {
      results = await this.o.store.put(
        subs.map((s) => compact(s, this.o.keepFields)),
        readAt,
      );
    } catch (err) {
      this.missed(readAt, err as Error);
      return false;
    }
    let changed = false;
    for (let i = 0; i < subs.length; i++) {
      const { before, stored } = results[i];
      if (!stored) continue;
      if (before ? before.state !== subs[i].state : source === 'webhook') {
        changed = true;
        // A subscriber a delivery brings that the mirror never held is a creation in Kit, unless it carries the
        // server's stamp: then the server created it (its intent and its copy lost with Redis's data), and a
        // state other than active is the delivery's news, which journalAgrees records.
        if (!before && this.o.stampKey && ownWriteAtOf(subs[i], this.o.stampKey) !== undefined) continue;
        await this.o.journal
          .record(
            {
              subscriberId: subs[i].id,
              at: this.o.now ? this.o.now() : this.o.clock.now(),
              kind: before ? 'state' : 'created',
              source,
              state: subs[i].state,
              ...(this.o.stampKey && { kitStamp: kitStampOf(subs[i], this.o.stampKey) }),
            },
            learnedFrom(subs[i], this.o.stampKey, decide),
          )
          .catch((err) => {
            if (!(err instanceof OwnWritePendingError)) this.o.onError?.('journal', err as Error);
          });
      } else if (
        before &&
        (before.email_address !== subs[i].email_address || before.first_name !== subs[i].first_name)
      ) {
        changed = true;
      }
    }
    if (changed) await this.o.changed();
    return true;
  }

  private missed(at: number, err: Error): void {
    this.missedSince ??= at;
    this.o.onError?.('mirror write', err);
  }

  /** After an outage in which this replica missed writes: every replica stops trusting it until a walk. */
  private async distrust(): Promise<void> {
    try {
      await this.o.store.markIncomplete();
    } catch {
      return; // Redis away again; the next recovery tries again
    }
    // A lookup mirror is walked again by the next filter that needs it, not eagerly.
    if (!this.o.onDemand) void this.walk();
  }

  private out(rec: Subscriber & { seenAt?: number }): Subscriber {
    return expand(rec, this.o.allFieldKeys());
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(
      () => {
        // A walk that failed (Kit or Redis away) is tried again within a minute, not a whole period later:
        // until one completes, every read goes to Kit.
        void this.walk(true).finally(() =>
          this.schedule(this.lastWalkFailed ? Math.min(60_000, this.o.refreshMs) : this.o.refreshMs),
        );
      },
      ms,
      { background: true },
    );
  }
}

/** Whether a webhook's subscriber says what the mirror already holds (state and email). */
function agrees(known: Subscriber, delivered: Partial<Subscriber>): boolean {
  if (delivered.state !== undefined && delivered.state !== known.state) return false;
  if (
    typeof delivered.email_address === 'string' &&
    delivered.email_address.toLowerCase() !== known.email_address.toLowerCase()
  )
    return false;
  return delivered.state !== undefined;
}
