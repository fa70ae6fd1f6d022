import type { Subscriber } from '../../kit/types';
import { LIFECYCLE_FIELDS, type SubscriberFieldMap } from '../fieldMap';
import { type ChangeJournal, effectiveLastModified, type LearnedFrom, type ObservedSubscriber } from './changeJournal';

// Puts the journal's knowledge into the subscribers read from Kit (or the mirror) before they become SCIM
// Users: the lastModified stamp field is set to the effective time (changeJournal.ts), so meta.lastModified,
// the ETag, delta filters and cached walk pages all see the same value. Copies, never the caller's objects.

export class LastModifiedOverlay {
  constructor(
    private readonly journal: ChangeJournal,
    private readonly fields: SubscriberFieldMap,
    private readonly now: () => number,
  ) {}

  /**
   * `observe`: the subscribers were just read (Kit, the mirror), so their states may tell the journal of a
   * change; not for a lookup snapshot, whose seconds-old state could contradict a newer one the journal has.
   */
  async apply<T extends Subscriber>(subs: T[], observe = true): Promise<T[]> {
    if (subs.length === 0) return subs;
    const key = this.fields.key(LIFECYCLE_FIELDS.lastModified);
    if (observe)
      await this.journal.observe(
        subs.map((s) => observed(s, key)),
        this.now(),
      );
    const view = await this.journal.view(subs.map((s) => s.id));
    return subs.map((s) => {
      const stamp = Date.parse(s.fields?.[key] || s.created_at) || 0;
      const effective = effectiveLastModified(stamp, s.state, view.lastChangeOf(s.id), view.horizon);
      return effective > stamp ? { ...s, fields: { ...s.fields, [key]: new Date(effective).toISOString() } } : s;
    });
  }

  async one<T extends Subscriber>(sub: T, observe = true): Promise<T> {
    return (await this.apply([sub], observe))[0];
  }
}

/** A subscriber as a read found it, with what Kit holds that names its current state (changeJournal.ts). */
export function observed(s: Subscriber, stampKey: string): ObservedSubscriber {
  return { id: s.id, state: s.state, kitStamp: kitStampOf(s, stampKey), ownWriteAt: ownWriteAtOf(s, stampKey) };
}

/**
 * What a change learned from a subscriber read in Kit tells the journal of the server's own writes; nothing when
 * the caller has waited long enough for such a write's entry (`decide`) or knows no stamp field.
 */
export function learnedFrom(s: Subscriber, stampKey: string | undefined, decide = false): LearnedFrom {
  return decide || !stampKey ? {} : { ownWriteAt: ownWriteAtOf(s, stampKey) };
}

/** The time of the server's last stamp in Kit (ms), if it wrote one: what LearnedFrom compares. */
export function ownWriteAtOf(s: Subscriber, stampKey: string): number | undefined {
  const at = Date.parse(s.fields?.[stampKey] ?? '');
  return Number.isFinite(at) ? at : undefined;
}

/** The server's last stamp in Kit, else Kit's created_at: what Kit holds that names a subscriber's state. */
export function kitStampOf(s: Subscriber, stampKey: string): string | undefined {
  return s.fields?.[stampKey] || s.created_at || undefined;
}
