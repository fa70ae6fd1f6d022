import type { SubscriberState } from './kitTypes';
import type { AccountTables } from './accountTables';
import { ChangeLog } from './keyedSequence';
import type { SubscriberRecord, Tagging, TagRecord, WebhookRecord } from './records';

// The on-disk shape of a sandbox account (KitSandboxOptions.dataFile). Rows are tuples to keep a 100,000
// subscriber file small; bump SNAPSHOT_VERSION when a tuple changes.

export const SNAPSHOT_VERSION = 1;

export interface StoreSnapshot {
  counters: { nextSubscriberId: number; nextTagId: number; nextWebhookId: number };
  /** [id, label, key, name, createdAt] */
  customFields: Array<[number, string, string, string, number]>;
  /** [id, email, firstName, state, createdAt, updatedAt, updatedSeq, cancelledAt, cancelledSeq, fields by field id] */
  subscribers: Array<
    [
      number,
      string,
      string | null,
      SubscriberState,
      number,
      number,
      number,
      number | null,
      number,
      Record<number, string> | null,
    ]
  >;
  /** [id, name, createdAt, taggings as [seq, subscriberId, taggedAt] in membership order] */
  tags: Array<[number, string, number, Array<[number, number, number]>]>;
  /** [id, event, targetUrl] */
  webhooks: Array<[number, WebhookRecord['event'], string]>;
}

export interface OAuthSnapshot {
  /** [token, expiresAt] */
  accessTokens: Array<[string, number]>;
  /** [token, the access token issued with it] */
  refreshTokens: Array<[string, string]>;
}

export interface SandboxSnapshot {
  version: number;
  savedAt: string;
  apiKey: string;
  store: StoreSnapshot;
  oauth?: OAuthSnapshot;
  /** Accounts added with createAccount / POST /__sandbox/accounts (absent in files saved before they existed). */
  accounts?: AccountSnapshot[];
}

/** An added account: its credentials and data. Revocations, rate limits and call logs are not saved. */
export interface AccountSnapshot {
  id: number;
  apiKey: string;
  apiSecret: string;
  store: StoreSnapshot;
}

// ---- the codec: tables ↔ tuples -------------------------------------------------------------------------

export function encodeAccount(t: AccountTables): StoreSnapshot {
  return {
    counters: {
      nextSubscriberId: t.nextSubscriberId,
      nextTagId: t.nextTagId,
      nextWebhookId: t.webhooks.nextIdValue,
    },
    customFields: t.customFields.all().map((f) => [f.id, f.label, f.key, f.name, f.createdAt]),
    subscribers: t.subs.map((s) => [
      s.id,
      s.email,
      s.firstName,
      s.state,
      s.createdAt,
      s.updatedAt,
      s.updatedSeq,
      s.cancelledAt,
      s.cancelledSeq,
      s.fields,
    ]),
    tags: [...t.tags.values()].map((t) => [
      t.id,
      t.name,
      t.createdAt,
      [...t.members.values()].map((m) => [m.seq, m.subscriber.id, m.taggedAt] as [number, number, number]),
    ]),
    webhooks: t.webhooks.list().map((w) => [w.id, w.event, w.targetUrl]),
  };
}

/** Restores a snapshot into empty tables. */
export function restoreAccount(t: AccountTables, snap: StoreSnapshot): void {
  for (const [id, label, key, name, createdAt] of snap.customFields) {
    t.customFields.restore({ id, label, key, name, createdAt });
  }
  for (const [
    id,
    email,
    firstName,
    state,
    createdAt,
    updatedAt,
    updatedSeq,
    cancelledAt,
    cancelledSeq,
    fields,
  ] of snap.subscribers) {
    const s: SubscriberRecord = {
      id,
      email,
      firstName,
      state,
      createdAt,
      updatedAt,
      updatedSeq,
      cancelledAt,
      cancelledSeq,
      fields,
      tags: null,
    };
    t.subs.push(s);
    t.byId.set(id, s);
    t.byEmail.set(email, s);
    t.stateCounts[state]++;
  }
  // The change logs are rebuilt in their saved order so that cursors issued before a restart keep working.
  for (const s of [...t.subs].sort((a, b) => a.updatedSeq - b.updatedSeq)) t.updated.restore(s.updatedSeq, s);
  const cancelled = t.subs.filter((s) => s.cancelledSeq > 0).sort((a, b) => a.cancelledSeq - b.cancelledSeq);
  for (const s of cancelled) t.cancelled.restore(s.cancelledSeq, s);
  for (const [id, name, createdAt, members] of snap.tags) {
    const tag: TagRecord = { id, name, createdAt, members: new ChangeLog<Tagging>(), bySubscriber: new Map() };
    t.tags.set(id, tag);
    t.tagsByName.set(name.toLowerCase(), tag);
    for (const [seq, subscriberId, taggedAt] of members) {
      const s = t.byId.get(subscriberId);
      if (!s) continue;
      const tagging: Tagging = { tagId: id, subscriber: s, taggedAt, seq };
      tag.members.restore(seq, tagging);
      tag.bySubscriber.set(s.id, tagging);
      if (s.tags) s.tags.push(tagging);
      else s.tags = [tagging];
      t.taggingCount++;
    }
  }
  for (const [id, event, targetUrl] of snap.webhooks) t.webhooks.restore({ id, event, targetUrl });
  t.webhooks.resumeIdsAt(snap.counters.nextWebhookId);
  t.nextSubscriberId = Math.max(snap.counters.nextSubscriberId, t.nextSubscriberId);
  t.nextTagId = Math.max(snap.counters.nextTagId, t.nextTagId);
}
