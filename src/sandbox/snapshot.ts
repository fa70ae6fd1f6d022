import type { SubscriberState } from '../kit/types';
import type { WebhookRecord } from './records';

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
}
