import type { SubscriberState } from '../../kit/types';
import {
  type ChangeJournal,
  ChangeListeners,
  INTENT_TTL_MS,
  type IntentTarget,
  intentKey,
  type JournalView,
  type LearnedFrom,
  type ObservedSubscriber,
  OwnWritePendingError,
  ownWritePending,
  type SubscriberChange,
} from './changeJournal';

// The journal of one process (no REDIS_URL). Lost on restart: its horizon is then the new start, so every
// subscriber that is not active reads as changed at the restart (a delta read shows it once more).

export interface MemoryJournalOptions {
  now: () => number;
  /** Subscribers whose latest change is kept; the oldest is forgotten first (and moves the horizon). */
  maxSubscribers: number;
  /** Entries of the feed kept for `read`. */
  maxFeed?: number;
}

export class MemoryJournal implements ChangeJournal {
  /** Latest change per subscriber, in the order they were recorded (oldest first). */
  private readonly latest = new Map<number, number>();
  private readonly feed: SubscriberChange[] = [];
  /** The last state seen per subscriber (baseline for `observe`), oldest first. */
  private readonly states = new Map<number, SubscriberState>();
  private readonly listeners = new ChangeListeners();
  /** Write-ahead intents by intentKey: the state being written and until when the intent stands. */
  private readonly intents = new Map<string, { state: SubscriberState; until: number }>();
  private horizon: number;
  private readonly maxFeed: number;

  constructor(private readonly opts: MemoryJournalOptions) {
    this.horizon = opts.now();
    this.maxFeed = opts.maxFeed ?? opts.maxSubscribers;
  }

  async record(change: SubscriberChange, opts?: LearnedFrom): Promise<void> {
    if (this.pendingOwnWrite(change.subscriberId, opts?.ownWriteAt))
      throw new OwnWritePendingError(change.subscriberId);
    if (change.source !== 'scim' && change.state !== undefined && this.states.get(change.subscriberId) === change.state)
      return;
    const previous = this.latest.get(change.subscriberId);
    this.latest.delete(change.subscriberId);
    this.latest.set(change.subscriberId, Math.max(change.at, previous ?? 0));
    while (this.latest.size > this.opts.maxSubscribers) {
      const [oldestId, oldestAt] = this.latest.entries().next().value as [number, number];
      this.latest.delete(oldestId);
      this.horizon = Math.max(this.horizon, oldestAt);
    }
    if (change.state) this.see(change.subscriberId, change.state, change.at);
    this.feed.push(change);
    if (this.feed.length > this.maxFeed) this.feed.splice(0, this.feed.length - this.maxFeed);
    this.listeners.emit(change);
  }

  async observe(subs: ObservedSubscriber[], at: number): Promise<void> {
    for (const s of subs) {
      const known = this.states.get(s.id);
      // First seen in a state other than active: it became so at a time the journal never saw; now is the only
      // time it can vouch for (redisJournal.ts, OBSERVE_LUA).
      if (known !== undefined && known !== s.state && this.pendingOwnWrite(s.id, s.ownWriteAt)) continue;
      if (known === undefined ? s.state !== 'active' : known !== s.state)
        await this.record({
          subscriberId: s.id,
          at,
          kind: 'state',
          source: 'reread',
          state: s.state,
          ...(known === undefined && { firstSeen: true }),
          ...(s.kitStamp !== undefined && { kitStamp: s.kitStamp }),
        });
      else if (known === undefined) this.see(s.id, s.state, at);
    }
  }

  async intend(target: IntentTarget, state: SubscriberState, ttlMs = INTENT_TTL_MS): Promise<void> {
    const now = this.opts.now();
    for (const [key, intent] of this.intents) if (intent.until <= now) this.intents.delete(key);
    this.intents.set(intentKey(target), { state, until: now + ttlMs });
  }

  async withdraw(target: IntentTarget): Promise<void> {
    this.intents.delete(intentKey(target));
  }

  async intended(subscriberId: number, email: string | undefined, state: SubscriberState): Promise<boolean> {
    const now = this.opts.now();
    const keys = [intentKey({ subscriberId }), ...(email ? [intentKey({ email })] : [])];
    return keys.some((k) => {
      const intent = this.intents.get(k);
      return intent !== undefined && intent.until > now && intent.state === state;
    });
  }

  private pendingOwnWrite(id: number, ownWriteAt: number | undefined): boolean {
    return ownWritePending(ownWriteAt, this.latest.get(id), this.horizon);
  }

  private see(id: number, state: SubscriberState, at: number): void {
    this.states.delete(id);
    this.states.set(id, state);
    if (this.states.size > this.opts.maxSubscribers) {
      // Forgetting a baseline means a later change of that subscriber could go unseen: the journal is only
      // complete from now on.
      this.states.delete(this.states.keys().next().value as number);
      this.horizon = Math.max(this.horizon, at);
    }
  }

  async lastState(subscriberId: number): Promise<SubscriberState | undefined> {
    return this.states.get(subscriberId);
  }

  async view(): Promise<JournalView> {
    const horizon = this.horizon;
    return { horizon, lastChangeOf: (id) => this.latest.get(id) };
  }

  async read(since: number, limit: number): Promise<SubscriberChange[]> {
    return this.feed.filter((c) => c.at > since).slice(0, limit);
  }

  subscribe(listener: (change: SubscriberChange) => void): () => void {
    return this.listeners.add(listener);
  }

  get size(): number {
    return this.latest.size;
  }
}
