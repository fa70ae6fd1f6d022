import type { KitApi } from '../../kit/api';
import type { CallOptions, Tag } from '../../kit/types';
import type { GroupRef } from '../userMapping';
import type { UserGroupsSource } from '../userSources';
import type { CacheValidity, TagCatalog } from './tagCatalog';
import { yieldEvery } from '../paging/timeSlices';

// User.groups is read-only in SCIM and lives in Kit as tags. A single user costs one call (its tags); a list
// of users must never cost one call per user, so lists read a membership index built from each group tag's
// subscriber pages (one call per 1,000 members) and kept true in place for changes made through this server.

/** Up to this many users, a cold index is not worth building for one answer. */
const FEW = 3;

export class TagMembership implements UserGroupsSource {
  private index?: { at: number; gen: number; bySubscriber: Map<number, Set<number>> };
  private building?: Promise<Map<number, Set<number>>>;
  private deletedTag?: Tag;
  private deleted?: { at: number; ids: Set<number> };

  constructor(
    private readonly kit: KitApi,
    private readonly catalog: TagCatalog,
    private readonly options: CacheValidity,
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async fresh(entry: { at: number; gen: number } | undefined): Promise<boolean> {
    if (!entry || this.now() - entry.at >= this.options.ttlMs) return false;
    return entry.gen === (await this.gen());
  }

  private async gen(): Promise<number> {
    return (await this.options.generation?.()) ?? 0;
  }

  useDeletedTag(tag: Tag): void {
    this.deletedTag = tag;
  }

  private refs(tagIds: Iterable<number>, tags: Map<number, Tag>): GroupRef[] {
    const refs: GroupRef[] = [];
    for (const id of tagIds) {
      const tag = tags.get(id);
      if (tag && this.catalog.isGroup(tag))
        refs.push({ value: String(tag.id), display: this.catalog.displayName(tag) });
    }
    return refs.sort((a, b) => Number(a.value) - Number(b.value));
  }

  async ofSubscriber(id: number, opts: CallOptions): Promise<GroupRef[]> {
    if (this.index && (await this.fresh(this.index))) {
      return this.refs(this.index.bySubscriber.get(id) ?? [], await this.catalog.all(opts));
    }
    const tags = await this.kit.subscribers.tags(id, opts);
    tags.forEach((t) => {
      this.catalog.remember(t);
    });
    return this.refs(
      tags.map((t) => t.id),
      new Map(tags.map((t) => [t.id, t])),
    );
  }

  async ofSubscribers(ids: number[], opts: CallOptions): Promise<Map<number, GroupRef[]>> {
    const result = new Map<number, GroupRef[]>();
    if (ids.length === 0) return result;
    if (ids.length <= FEW && !(this.index && (await this.fresh(this.index)))) {
      // A handful of users with a cold index: their own tags are cheaper than building the whole index.
      for (const id of ids) result.set(id, await this.ofSubscriber(id, opts));
      return result;
    }
    const index = await this.membershipIndex(opts);
    const tags = await this.catalog.all(opts);
    const slices = yieldEvery();
    for (const id of ids) {
      if (slices.spent()) await slices.next();
      result.set(id, this.refs(index.get(id) ?? [], tags));
    }
    return result;
  }

  async membershipIndex(opts: CallOptions): Promise<Map<number, Set<number>>> {
    if (this.index && (await this.fresh(this.index))) return this.index.bySubscriber;
    this.building ??= (async () => {
      const gen = await this.gen();
      const bySubscriber = new Map<number, Set<number>>();
      const slices = yieldEvery();
      for (const tag of await this.catalog.groups(opts)) {
        for await (const page of this.kit.tags.subscriberPages(tag.id, { status: 'all' }, opts)) {
          for (const s of page.items) {
            if (slices.spent()) await slices.next();
            const set = bySubscriber.get(s.id) ?? new Set<number>();
            set.add(tag.id);
            bySubscriber.set(s.id, set);
          }
        }
      }
      this.index = { at: this.now(), gen, bySubscriber };
      return bySubscriber;
    })().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  async snapshot(opts: CallOptions): Promise<{ generation: number; of(id: number): GroupRef[] }> {
    const index = await this.membershipIndex(opts);
    const tags = await this.catalog.all(opts);
    return { generation: this.index?.gen ?? 0, of: (id) => this.refs(index.get(id) ?? [], tags) };
  }

  /** Of the given subscribers, those the index shows carrying the tag; undefined unless the index is fresh. */
  async taggedAmong(tagId: number, subscriberIds: number[]): Promise<number[] | undefined> {
    if (!this.index || !(await this.fresh(this.index))) return undefined;
    const bySubscriber = this.index.bySubscriber;
    return subscriberIds.filter((id) => bySubscriber.get(id)?.has(tagId));
  }

  /** Keeps a warm index exact after tagging/untagging through this server. */
  noteTagged(tagId: number, subscriberIds: number[], tagged: boolean): void {
    if (!this.index) return;
    for (const id of subscriberIds) {
      const set = this.index.bySubscriber.get(id) ?? new Set<number>();
      if (tagged) set.add(tagId);
      else set.delete(tagId);
      this.index.bySubscriber.set(id, set);
    }
  }

  /**
   * This replica's own group write moved the generation to `generation`: a warm index it kept exact in place
   * (noteTagged) stays usable, unless another replica bumped in between (then it is more than one step on).
   * Without this, every group push would make the next lookups and deprovisions read each user's tags.
   */
  adoptGeneration(generation: number): void {
    if (this.index && this.index.gen === generation - 1) this.index.gen = generation;
  }

  invalidate(): void {
    this.index = undefined;
  }

  async removeAll(id: number, opts: CallOptions): Promise<void> {
    const tags = await this.kit.subscribers.tags(id, opts);
    for (const tag of tags.filter((t) => this.catalog.isGroup(t))) {
      // Already untagged (a concurrent change, or a repeated DELETE after an outage) meets the goal too.
      await this.kit.tags.untag(tag.id, id, opts);
      this.noteTagged(tag.id, [id], false);
    }
  }

  private requireDeletedTag(): Tag {
    if (!this.deletedTag) throw new Error('the deleted-users tag was not bootstrapped');
    return this.deletedTag;
  }

  async markDeleted(id: number, opts: CallOptions): Promise<void> {
    await this.kit.tags.tagSubscriber(this.requireDeletedTag().id, id, opts);
    this.deleted?.ids.add(id);
  }

  /** Ids of deleted users (the tombstone tag's subscribers), so a group push never tags a deleted user. */
  async deletedIds(opts: CallOptions): Promise<Set<number>> {
    // Only user deletions change this set, and they are rare: it follows the TTL, not every write's
    // generation bump. A deletion on another replica inside the TTL can at worst let a group push tag a
    // deleted user, whom every read filters out by the tombstone field anyway.
    if (this.deleted && this.now() - this.deleted.at < this.options.ttlMs) return this.deleted.ids;
    const ids = new Set<number>();
    for await (const page of this.kit.tags.subscriberPages(this.requireDeletedTag().id, { status: 'all' }, opts)) {
      for (const s of page.items) ids.add(s.id);
    }
    this.deleted = { at: this.now(), ids };
    return ids;
  }

  async deletedCount(opts: CallOptions): Promise<number> {
    const page = await this.kit.tags.subscribers(
      this.requireDeletedTag().id,
      { status: 'all' },
      { perPage: 1, includeTotalCount: true },
      opts,
    );
    return page.totalCount ?? page.items.length;
  }
}
