import { SUBSCRIBER_STATES, type Subscriber, type SubscriberState } from './kitTypes';
import { AccountTables } from './accountTables';
import type { Clock } from './clock';
import { CustomFieldCatalog } from './customFieldCatalog';
import { normaliseEmail } from './email';
import { type KeyedSequence, SortedArraySequence } from './keyedSequence';
import type {
  NewSubscriber,
  AccountProfile,
  SeedOptions,
  SeedResult,
  SubscriberEvent,
  SubscriberRecord,
  SubscriberWrite,
} from './records';
import { notFound, unprocessable } from './rejection';
import { subscriberJson } from './render';
import type { WebhookEventName } from './webhookEvents';

// The sandbox account's subscribers and Kit's rules for them: upsert by email, one-way state, silent drop of
// values for unknown fields, the orders Kit lists them in. SandboxStore (store.ts) adds tags, custom fields
// and webhooks over these; the methods are synchronous so tests can seed and inspect the account directly.

const isState = (v: unknown): v is SubscriberState =>
  typeof v === 'string' && (SUBSCRIBER_STATES as readonly string[]).includes(v);

export class SubscriberStore {
  readonly account: AccountProfile;

  readonly customFields = new CustomFieldCatalog();

  /** Every table of the account; the snapshot codec (snapshot.ts) reads and restores them as a whole. */
  protected readonly t = new AccountTables(this.customFields);

  private readonly changeListeners: Array<() => void> = [];
  private readonly eventListeners: Array<(e: SubscriberEvent) => void> = [];

  /** `profile` tells the accounts of one sandbox apart (webhooks carry the account id); default account 1. */
  constructor(
    protected readonly now: Clock,
    profile: Partial<AccountProfile> = {},
  ) {
    this.account = {
      id: 1,
      name: 'Kit Sandbox',
      plan_type: 'creator',
      primary_email_address: 'owner@kit-sandbox.test',
      created_at: '2024-01-01T00:00:00Z',
      ...profile,
    };
  }

  /** Called after every change (persistence debounces on it). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Called for every subscriber event a Kit webhook could report. */
  onSubscriberEvent(listener: (e: SubscriberEvent) => void): void {
    this.eventListeners.push(listener);
  }

  // ---- subscribers -------------------------------------------------------------------------------------------

  getSubscriber(id: number): Subscriber | undefined {
    const s = this.t.byId.get(id);
    return s && this.render(s);
  }

  findByEmail(email: string): Subscriber | undefined {
    const s = this.recordByEmail(email);
    return s && this.render(s);
  }

  subscriberRecord(id: number): SubscriberRecord | undefined {
    return this.t.byId.get(id);
  }

  recordByEmail(email: string): SubscriberRecord | undefined {
    const normalised = typeof email === 'string' ? email.trim().toLowerCase() : '';
    return this.t.byEmail.get(normalised);
  }

  render(s: SubscriberRecord): Subscriber {
    return subscriberJson(s, this.customFields.all());
  }

  /** Creates a subscriber; throws when the email is invalid or taken (unlike the API's upsert). */
  addSubscriber(input: NewSubscriber): Subscriber {
    const email = normaliseEmail(input.email_address);
    if (!email) throw unprocessable('Email address is invalid');
    if (this.t.byEmail.has(email)) throw unprocessable('Email address has already been taken');
    const state = input.state ?? 'active';
    if (!isState(state)) throw unprocessable('State is not included in the list');
    const createdAt =
      input.created_at === undefined
        ? this.now()
        : typeof input.created_at === 'number'
          ? input.created_at
          : Date.parse(input.created_at);
    if (Number.isNaN(createdAt)) throw unprocessable('Created at is invalid');
    const s = this.insert(email, input.first_name ?? null, state, createdAt);
    this.writeFields(s, input.fields);
    this.changed();
    return this.render(s);
  }

  /**
   * POST /v4/subscribers: Kit's upsert by email. A new email creates (in `state`, default active); an existing
   * one gets first_name (when sent) and the sent fields, and keeps its state whatever `state` says.
   */
  upsertSubscriber(input: SubscriberWrite): { record: SubscriberRecord; created: boolean } {
    const email = normaliseEmail(input.email_address);
    if (!email) throw unprocessable('Email address is invalid');
    if (input.state !== undefined && input.state !== null && !isState(input.state)) {
      throw unprocessable('State is not included in the list');
    }
    const existing = this.t.byEmail.get(email);
    if (existing) {
      let changed = false;
      if (input.first_name !== undefined) changed = this.writeFirstName(existing, input.first_name) || changed;
      changed = this.writeFields(existing, input.fields) || changed;
      if (changed) this.touch(existing);
      return { record: existing, created: false };
    }
    const state = isState(input.state) ? input.state : 'active';
    const s = this.insert(email, null, state, this.now());
    if (input.first_name !== undefined) this.writeFirstName(s, input.first_name);
    this.writeFields(s, input.fields);
    this.changed();
    if (state === 'active') this.emit({ name: 'subscriber_activate', subscriber: s });
    return { record: s, created: true };
  }

  /** PUT /v4/subscribers/{id}: only what is sent changes; state is not writable here. */
  updateSubscriber(id: number, input: SubscriberWrite): SubscriberRecord {
    const s = this.t.byId.get(id);
    if (!s) throw notFound();
    let changed = false;
    if (input.email_address !== undefined) {
      const email = normaliseEmail(input.email_address);
      if (!email) throw unprocessable('Email address is invalid');
      const owner = this.t.byEmail.get(email);
      if (owner && owner !== s) throw unprocessable('Email address has already been taken');
      if (email !== s.email) {
        this.t.byEmail.delete(s.email);
        s.email = email;
        this.t.byEmail.set(email, s);
        changed = true;
      }
    }
    if (input.first_name !== undefined) changed = this.writeFirstName(s, input.first_name) || changed;
    changed = this.writeFields(s, input.fields) || changed;
    if (changed) this.touch(s);
    return s;
  }

  /** POST /v4/subscribers/{id}/unsubscribe: state becomes inactive, and Kit has no API to undo it. */
  unsubscribe(id: number): SubscriberRecord {
    const s = this.t.byId.get(id);
    if (!s) throw notFound();
    if (s.state !== 'inactive') {
      this.setStateOf(s, 'inactive');
      this.touch(s);
      this.emit({ name: 'subscriber_unsubscribe', subscriber: s });
    }
    return s;
  }

  /**
   * Changes a state the way Kit itself does outside the API (a bounce, a spam complaint, a cancellation in the
   * Kit UI). The API never does this; tests use it to put subscribers in every state.
   */
  setState(id: number, state: SubscriberState): Subscriber {
    const s = this.t.byId.get(id);
    if (!s) throw notFound();
    if (!isState(state)) throw unprocessable('State is not included in the list');
    if (s.state !== state) {
      this.setStateOf(s, state);
      this.touch(s);
      const event: Partial<Record<SubscriberState, WebhookEventName>> = {
        active: 'subscriber_activate',
        inactive: 'subscriber_unsubscribe',
        bounced: 'subscriber_bounce',
        complained: 'subscriber_complain',
      };
      const name = event[state];
      if (name) this.emit({ name, subscriber: s });
    }
    return this.render(s);
  }

  /** Creates n subscribers in one go (100,000 in well under a second). */
  seedSubscribers(n: number, opts: SeedOptions = {}): SeedResult {
    const count = Math.max(0, Math.floor(n));
    const prefix = opts.emailPrefix ?? 'subscriber';
    const domain = opts.domain ?? 'example.com';
    const state = opts.state ?? 'active';
    if (!isState(state)) throw unprocessable('State is not included in the list');
    const fieldValues: Array<[number, string]> = [];
    for (const [name, value] of Object.entries(opts.fields ?? {})) {
      const field = this.customFields.resolve(name);
      if (field && typeof value === 'string') fieldValues.push([field.id, value]);
    }
    const now = this.now();
    const ids: number[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = this.t.nextSubscriberId;
      const email = `${prefix}${id}@${domain}`.toLowerCase();
      if (this.t.byEmail.has(email)) throw unprocessable(`Email address has already been taken: ${email}`);
      const s = this.insert(
        email,
        opts.firstNamePrefix === undefined ? null : `${opts.firstNamePrefix}${id}`,
        state,
        now,
      );
      if (fieldValues.length > 0) {
        const values: Record<number, string> = {};
        for (const [fieldId, value] of fieldValues) values[fieldId] = value.replace(/\{id\}/g, String(id));
        s.fields = values;
      }
      ids[i] = id;
    }
    if (count > 0) this.changed();
    return { count, firstId: count ? ids[0] : null, lastId: count ? ids[count - 1] : null, ids };
  }

  // ---- list views --------------------------------------------------------------------------------------------

  /** Every subscriber by ascending id (= creation order: ids only grow and Kit never deletes). */
  subscribersById(): KeyedSequence<SubscriberRecord> {
    return new SortedArraySequence(this.t.subs, (s) => s.id);
  }

  /** Every subscriber by time of last change. */
  subscribersByUpdate(): KeyedSequence<SubscriberRecord> {
    return this.t.updated;
  }

  /** Cancelled subscribers by the time they were cancelled. */
  subscribersByCancellation(): KeyedSequence<SubscriberRecord> {
    return this.t.cancelled;
  }

  countInState(state: SubscriberState | 'all'): number {
    return state === 'all' ? this.t.subs.length : this.t.stateCounts[state];
  }

  protected insert(
    email: string,
    firstName: string | null,
    state: SubscriberState,
    createdAt: number,
  ): SubscriberRecord {
    const s: SubscriberRecord = {
      id: this.t.nextSubscriberId++,
      email,
      firstName,
      state: 'active',
      createdAt,
      updatedAt: createdAt,
      updatedSeq: 0,
      cancelledAt: null,
      cancelledSeq: 0,
      fields: null,
      tags: null,
    };
    s.updatedSeq = this.t.updated.append(s);
    this.t.subs.push(s);
    this.t.byId.set(s.id, s);
    this.t.byEmail.set(email, s);
    this.t.stateCounts.active++;
    if (state !== 'active') this.setStateOf(s, state);
    return s;
  }

  protected setStateOf(s: SubscriberRecord, state: SubscriberState): void {
    this.t.stateCounts[s.state]--;
    this.t.stateCounts[state]++;
    if (s.state === 'cancelled') {
      this.t.cancelled.remove(s.cancelledSeq);
      s.cancelledSeq = 0;
      s.cancelledAt = null;
    }
    s.state = state;
    if (state === 'cancelled') {
      s.cancelledAt = this.now();
      s.cancelledSeq = this.t.cancelled.append(s);
    }
  }

  protected writeFirstName(s: SubscriberRecord, raw: unknown): boolean {
    const value = raw === null || raw === undefined ? null : String(raw);
    if (value === s.firstName) return false;
    s.firstName = value;
    return true;
  }

  /** Kit silently ignores values for fields that do not exist: no error, nothing stored. */
  protected writeFields(s: SubscriberRecord, raw: unknown): boolean {
    if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) return false;
    let changed = false;
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const field = this.customFields.resolve(name);
      if (!field) continue;
      if (value === null || value === undefined) {
        if (s.fields && field.id in s.fields) {
          delete s.fields[field.id];
          changed = true;
        }
        continue;
      }
      if (typeof value === 'object') continue;
      const text = String(value);
      if (s.fields?.[field.id] === text) continue;
      if (!s.fields) s.fields = {};
      s.fields[field.id] = text;
      changed = true;
    }
    return changed;
  }

  /** Every change moves the subscriber to the end of the updated_at order (Kit's updated_at bumps). */
  protected touch(s: SubscriberRecord): void {
    s.updatedAt = this.now();
    this.t.updated.remove(s.updatedSeq);
    s.updatedSeq = this.t.updated.append(s);
    this.changed();
  }

  protected changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  protected emit(event: SubscriberEvent): void {
    for (const listener of this.eventListeners) listener(event);
  }
}
