import { SUBSCRIBER_STATES, type Subscriber, type SubscriberState, type Tag } from '../kit/types';
import type { Clock } from './clock';
import { CustomFieldCatalog, customFieldJson, type FieldRecord } from './customFieldCatalog';
import { normaliseEmail } from './email';
import { AccountTables } from './accountTables';
import { ChangeLog, type KeyedSequence, SortedArraySequence } from './keyedSequence';
import type { SubscriberRecord, Tagging, TagRecord, WebhookRecord } from './records';
import { notFound, unprocessable } from './rejection';
import { subscriberJson, tagJson } from './render';
import { encodeAccount, restoreAccount, type StoreSnapshot } from './snapshot';
import type { WebhookEventName } from './webhookEvents';

// The sandbox's Kit account: subscribers, tags, taggings, custom fields and webhooks, with Kit's rules
// (upsert by email, one-way state, silent drop of unknown fields, unique tag names). Synchronous, so tests can
// seed and inspect it directly; the HTTP routes are thin translations onto these methods.

export interface NewSubscriber {
  email_address: string;
  first_name?: string | null;
  state?: SubscriberState;
  fields?: Record<string, unknown> | null;
  /** ISO 8601 or epoch ms; defaults to the clock. Lets tests place subscribers in created_* date ranges. */
  created_at?: string | number;
}

export interface SubscriberWrite {
  email_address?: unknown;
  first_name?: unknown;
  state?: unknown;
  fields?: unknown;
}

export interface SeedOptions {
  /** Emails are `${emailPrefix}${id}@${domain}`; defaults `subscriber` and `example.com`. */
  emailPrefix?: string;
  domain?: string;
  state?: SubscriberState;
  /** first_name is `${firstNamePrefix}${id}` when set, null otherwise. */
  firstNamePrefix?: string;
  /** Values by field key or label; `{id}` in a value is replaced with the subscriber id. Unknown fields drop. */
  fields?: Record<string, string>;
}

export interface SeedResult {
  count: number;
  firstId: number | null;
  lastId: number | null;
  ids: number[];
}

export interface StoreCounts {
  subscribers: number;
  byState: Record<SubscriberState, number>;
  tags: number;
  taggings: number;
  customFields: number;
  webhooks: number;
}

export interface SandboxAccount {
  id: number;
  name: string;
  plan_type: string;
  primary_email_address: string;
  created_at: string;
}

/** Subscriber events a Kit webhook can report. */
export interface SubscriberEvent {
  name: WebhookEventName;
  subscriber: SubscriberRecord;
  tagId?: number;
}

const isState = (v: unknown): v is SubscriberState =>
  typeof v === 'string' && (SUBSCRIBER_STATES as readonly string[]).includes(v);

export class SandboxStore {
  readonly account: SandboxAccount = {
    id: 1,
    name: 'Kit Sandbox',
    plan_type: 'creator',
    primary_email_address: 'owner@kit-sandbox.test',
    created_at: '2024-01-01T00:00:00Z',
  };

  readonly customFields = new CustomFieldCatalog();

  /** Every table of the account; the snapshot codec (snapshot.ts) reads and restores them as a whole. */
  private readonly t = new AccountTables(this.customFields);

  private readonly changeListeners: Array<() => void> = [];
  private readonly eventListeners: Array<(e: SubscriberEvent) => void> = [];

  constructor(private readonly now: Clock) {}

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

  // ---- tags --------------------------------------------------------------------------------------------------

  createTag(name: string): Tag {
    return tagJson(this.createTagRecord(name));
  }

  createTagRecord(rawName: unknown): TagRecord {
    const name = this.validTagName(rawName, undefined);
    const tag: TagRecord = {
      id: this.t.nextTagId++,
      name,
      createdAt: this.now(),
      members: new ChangeLog<Tagging>(),
      bySubscriber: new Map(),
    };
    this.t.tags.set(tag.id, tag);
    this.t.tagsByName.set(name.toLowerCase(), tag);
    this.changed();
    return tag;
  }

  renameTag(id: number, rawName: unknown): TagRecord {
    const tag = this.t.tags.get(id);
    if (!tag) throw notFound();
    const name = this.validTagName(rawName, tag);
    if (name !== tag.name) {
      this.t.tagsByName.delete(tag.name.toLowerCase());
      tag.name = name;
      this.t.tagsByName.set(name.toLowerCase(), tag);
      this.changed();
    }
    return tag;
  }

  tagRecord(id: number): TagRecord | undefined {
    return this.t.tags.get(id);
  }

  findTagByName(name: string): Tag | undefined {
    const tag = this.t.tagsByName.get(name.trim().toLowerCase());
    return tag && tagJson(tag);
  }

  listTags(): Tag[] {
    return [...this.t.tags.values()].map(tagJson);
  }

  /** Tags by ascending id. */
  tagRecords(): TagRecord[] {
    return [...this.t.tags.values()];
  }

  /** Tags one subscriber; `created` is false when it already carried the tag (Kit's 200 instead of 201). */
  tagSubscriber(tagId: number, subscriberId: number): { tagging: Tagging; created: boolean } {
    const tag = this.t.tags.get(tagId);
    const s = this.t.byId.get(subscriberId);
    if (!tag || !s) throw notFound();
    const existing = tag.bySubscriber.get(s.id);
    if (existing) return { tagging: existing, created: false };
    const tagging = this.addTagging(tag, s, this.now());
    this.touch(s);
    this.emit({ name: 'tag_add', subscriber: s, tagId: tag.id });
    return { tagging, created: true };
  }

  /** false when the subscriber did not carry the tag (Kit's 404 on untag). */
  untagSubscriber(tagId: number, subscriberId: number): boolean {
    const tag = this.t.tags.get(tagId);
    const s = this.t.byId.get(subscriberId);
    if (!tag || !s) throw notFound();
    const tagging = tag.bySubscriber.get(s.id);
    if (!tagging) return false;
    tag.members.remove(tagging.seq);
    tag.bySubscriber.delete(s.id);
    s.tags = s.tags?.filter((t) => t !== tagging) ?? null;
    if (s.tags?.length === 0) s.tags = null;
    this.t.taggingCount--;
    this.touch(s);
    this.emit({ name: 'tag_remove', subscriber: s, tagId: tag.id });
    return true;
  }

  /** Tags many subscribers at once (seeding); returns how many were newly tagged. Unknown ids throw. */
  tagSubscribers(tagId: number, subscriberIds: Iterable<number>): number {
    const tag = this.t.tags.get(tagId);
    if (!tag) throw notFound();
    const now = this.now();
    let added = 0;
    for (const id of subscriberIds) {
      const s = this.t.byId.get(id);
      if (!s) throw notFound();
      if (tag.bySubscriber.has(id)) continue;
      this.addTagging(tag, s, now);
      s.updatedAt = now;
      this.t.updated.remove(s.updatedSeq);
      s.updatedSeq = this.t.updated.append(s);
      added++;
    }
    if (added > 0) this.changed();
    return added;
  }

  /** Subscriber ids carrying the tag, oldest tagging first. */
  subscribersOfTag(tagId: number): number[] {
    const tag = this.t.tags.get(tagId);
    if (!tag) throw notFound();
    return [...tag.members.values()].map((t) => t.subscriber.id);
  }

  /** The subscriber's tags by ascending tag id. */
  tagsOfSubscriber(subscriberId: number): Tag[] {
    const s = this.t.byId.get(subscriberId);
    if (!s) throw notFound();
    return this.taggingsOf(s).map((t) => tagJson(this.t.tags.get(t.tagId)!));
  }

  taggingsOf(s: SubscriberRecord): Tagging[] {
    return [...(s.tags ?? [])].sort((a, b) => a.tagId - b.tagId);
  }

  // ---- custom fields -----------------------------------------------------------------------------------------

  createCustomField(label: string) {
    const field = this.customFields.create(label, this.now());
    this.changed();
    return customFieldJson(field);
  }

  listCustomFields() {
    return this.customFields.all().map(customFieldJson);
  }

  createFieldRecord(label: unknown): FieldRecord {
    const field = this.customFields.create(label, this.now());
    this.changed();
    return field;
  }

  renameCustomField(id: number, label: unknown): FieldRecord {
    const field = this.customFields.rename(id, label);
    if (!field) throw notFound();
    this.changed();
    return field;
  }

  /** Kit: "This will remove all data in this field from your subscribers." */
  deleteCustomField(id: number): void {
    const field = this.customFields.delete(id);
    if (!field) throw notFound();
    for (const s of this.t.subs) {
      if (s.fields && field.id in s.fields) delete s.fields[field.id];
    }
    this.changed();
  }

  // ---- webhooks ----------------------------------------------------------------------------------------------

  createWebhook(rawEvent: unknown, rawTargetUrl: unknown): WebhookRecord {
    const hook = this.t.webhooks.create(rawEvent, rawTargetUrl, (id) => this.t.tags.has(id));
    this.changed();
    return hook;
  }

  deleteWebhook(id: number): void {
    this.t.webhooks.delete(id);
    this.changed();
  }

  listWebhooks(): WebhookRecord[] {
    return this.t.webhooks.list();
  }

  // ---- whole store -------------------------------------------------------------------------------------------

  counts(): StoreCounts {
    return {
      subscribers: this.t.subs.length,
      byState: { ...this.t.stateCounts },
      tags: this.t.tags.size,
      taggings: this.t.taggingCount,
      customFields: this.customFields.all().length,
      webhooks: this.t.webhooks.size,
    };
  }

  reset(): void {
    this.t.clear();
    this.changed();
  }

  toSnapshot(): StoreSnapshot {
    return encodeAccount(this.t);
  }

  loadSnapshot(snap: StoreSnapshot): void {
    this.t.clear();
    restoreAccount(this.t, snap);
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private insert(email: string, firstName: string | null, state: SubscriberState, createdAt: number): SubscriberRecord {
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

  private setStateOf(s: SubscriberRecord, state: SubscriberState): void {
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

  private writeFirstName(s: SubscriberRecord, raw: unknown): boolean {
    const value = raw === null || raw === undefined ? null : String(raw);
    if (value === s.firstName) return false;
    s.firstName = value;
    return true;
  }

  /** Kit silently ignores values for fields that do not exist: no error, nothing stored. */
  private writeFields(s: SubscriberRecord, raw: unknown): boolean {
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

  private addTagging(tag: TagRecord, s: SubscriberRecord, at: number): Tagging {
    const tagging: Tagging = { tagId: tag.id, subscriber: s, taggedAt: at, seq: 0 };
    tagging.seq = tag.members.append(tagging);
    tag.bySubscriber.set(s.id, tagging);
    if (s.tags) s.tags.push(tagging);
    else s.tags = [tagging];
    this.t.taggingCount++;
    return tagging;
  }

  private validTagName(raw: unknown, self: TagRecord | undefined): string {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (!name) throw unprocessable("Name can't be blank");
    const clash = this.t.tagsByName.get(name.toLowerCase());
    if (clash && clash !== self) throw unprocessable('Name has already been taken');
    return name;
  }

  /** Every change moves the subscriber to the end of the updated_at order (Kit's updated_at bumps). */
  private touch(s: SubscriberRecord): void {
    s.updatedAt = this.now();
    this.t.updated.remove(s.updatedSeq);
    s.updatedSeq = this.t.updated.append(s);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  private emit(event: SubscriberEvent): void {
    for (const listener of this.eventListeners) listener(event);
  }
}
