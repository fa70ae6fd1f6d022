import type { Tag } from './kitTypes';
import { unprocessable } from './rejection';
import type { SandboxStore, SeedOptions } from './store';

// One call that builds a benchmark-sized account: custom fields, N subscribers, tags, and taggings spread
// round-robin (100,000 subscribers over 50 tags = 2,000 per tag). Used by POST /__sandbox/seed and usable
// in-process.

export interface SeedPlan {
  /** Clear the account first. */
  reset?: boolean;
  /** Custom field labels to create (existing labels are kept). */
  customFields?: string[];
  /** How many subscribers to create, or the count with SeedOptions. */
  subscribers?: number | (SeedOptions & { count: number });
  /** Tag names, or a number N for `${tagPrefix}1..N`. Existing names are reused. */
  tags?: string[] | number;
  /** Default "Tag ". */
  tagPrefix?: string;
  /** Tag every k-th seeded subscriber (1 = all, the default; 0 = none). */
  tagEvery?: number;
  /** Tags per tagged subscriber, consecutive round-robin (default 1). */
  tagsPerSubscriber?: number;
}

export interface SeedReport {
  subscribers: { count: number; firstId: number | null; lastId: number | null };
  tags: Array<Tag & { tagged: number }>;
  taggings: number;
  customFields: Array<{ id: number; key: string; label: string }>;
  durationMs: number;
}

const wholeNumber = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw unprocessable(`${name} must be a whole number >= 0`);
  return n;
};

export function seedAccount(store: SandboxStore, plan: SeedPlan): SeedReport {
  const started = Date.now();
  if (plan.reset) store.reset();

  const customFields = (plan.customFields ?? []).map((label) => {
    const field = store.customFields.findByLabel(String(label)) ?? store.createFieldRecord(String(label));
    return { id: field.id, key: field.key, label: field.label };
  });

  const subscriberSpec =
    typeof plan.subscribers === 'object' && plan.subscribers !== null ? plan.subscribers : { count: plan.subscribers };
  const count = wholeNumber(subscriberSpec.count, 'subscribers', 0);
  const { count: _ignored, ...seedOptions } = subscriberSpec as SeedOptions & { count?: number };
  const seeded = store.seedSubscribers(count, seedOptions);

  const prefix = plan.tagPrefix ?? 'Tag ';
  const names =
    typeof plan.tags === 'number'
      ? Array.from({ length: wholeNumber(plan.tags, 'tags', 0) }, (_, i) => `${prefix}${i + 1}`)
      : (plan.tags ?? []).map(String);
  const tags = names.map((name) => {
    const existing = store.findTagByName(name);
    return existing ? store.tagRecord(existing.id)! : store.createTagRecord(name);
  });

  const every = wholeNumber(plan.tagEvery, 'tagEvery', 1);
  const perSubscriber = Math.min(wholeNumber(plan.tagsPerSubscriber, 'tagsPerSubscriber', 1), tags.length);
  const members: number[][] = tags.map(() => []);
  if (tags.length > 0 && every > 0 && perSubscriber > 0) {
    let turn = 0;
    for (let i = 0; i < seeded.ids.length; i += every) {
      for (let k = 0; k < perSubscriber; k++) members[(turn + k) % tags.length].push(seeded.ids[i]);
      turn++;
    }
  }
  let taggings = 0;
  const tagReport = tags.map((tag, i) => {
    const tagged = store.tagSubscribers(tag.id, members[i]);
    taggings += tagged;
    return {
      id: tag.id,
      name: tag.name,
      created_at: new Date(tag.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      tagged,
    };
  });

  return {
    subscribers: { count: seeded.count, firstId: seeded.firstId, lastId: seeded.lastId },
    tags: tagReport,
    taggings,
    customFields,
    durationMs: Date.now() - started,
  };
}
