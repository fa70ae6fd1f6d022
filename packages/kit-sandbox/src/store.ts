import type { SubscriberState, Tag } from './kitTypes';
import { customFieldJson, type FieldRecord } from './customFieldCatalog';
import { ChangeLog } from './keyedSequence';
import type { SubscriberRecord, Tagging, TagRecord, WebhookRecord } from './records';
import { notFound, unprocessable } from './rejection';
import { tagJson } from './render';
import { encodeAccount, restoreAccount, type StoreSnapshot } from './snapshot';
import { SubscriberStore } from './subscriberStore';

// The sandbox's Kit account: its subscribers (subscriberStore.ts) and, over them, tags, taggings, custom fields
// and webhooks, with Kit's rules (unique tag names, Kit's 404 on an untag that changes nothing). Synchronous, so
// tests can seed and inspect it directly; the HTTP routes are thin translations onto these methods.

export interface StoreCounts {
  subscribers: number;
  byState: Record<SubscriberState, number>;
  tags: number;
  taggings: number;
  customFields: number;
  webhooks: number;
}

export type {
  AccountProfile,
  NewSubscriber,
  SeedOptions,
  SeedResult,
  SubscriberEvent,
  SubscriberWrite,
} from './records';

export class SandboxStore extends SubscriberStore {
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
}
