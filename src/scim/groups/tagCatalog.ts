import type { KitApi } from '../../kit/api';
import type { CallOptions, Tag } from '../../kit/types';
import { identityKey } from '../identity';

// Which Kit tags are SCIM groups. Kit tags are flat and account-wide; the server reserves the "scim:" name
// space for its own bookkeeping (the tombstone tag, retired groups), and an operator can narrow groups to a
// configured name prefix so that marketing tags never show up in an IdP.

export const RESERVED_TAG_PREFIX = 'scim:';
export const DELETED_USERS_TAG = 'scim:deleted-users';
/**
 * Kit v3 only: v3 has no subscriber create, so every user is provisioned by subscribing its email to this tag
 * (a form would send its incentive email, a sequence its emails; a tag sends nothing). In the reserved name
 * space, so it is never a group; it also tells provisioned subscribers from the account's others in the Kit app.
 */
export const PROVISIONED_USERS_TAG = 'scim:users';
export const RETIRED_GROUP_PREFIX = 'scim:retired:';

/**
 * Whether a tag name lies in the reserved name space, compared by identity key: "\u200bscim:deleted-users" or
 * a fullwidth "ｓcim:deleted-users" reads as the reserved name, so it is one.
 */
export function isReservedTagName(name: string): boolean {
  return identityKey(name).startsWith(RESERVED_TAG_PREFIX);
}

/**
 * A tag name as Kit stores it: Kit strips leading and trailing whitespace and NUL characters (as Ruby's strip
 * does). A loop, not /^\s+|\s+$/, which backtracks quadratically on long inner runs of spaces.
 */
export function normaliseTagName(name: string): string {
  const trimmable = (c: string) => c === '\0' || c.trim() === '';
  let start = 0;
  let end = name.length;
  while (start < end && trimmable(name[start])) start++;
  while (end > start && trimmable(name[end - 1])) end--;
  return name.slice(start, end);
}

export interface CacheValidity {
  ttlMs: number;
  /** The shared cache generation (bumped by every write on any replica); a change invalidates the cache. */
  generation?: () => Promise<number>;
  now?: () => number;
}

export class TagCatalog {
  private tags?: { at: number; gen: number; byId: Map<number, Tag> };
  private loading?: Promise<Map<number, Tag>>;

  constructor(
    private readonly kit: KitApi,
    private readonly options: CacheValidity & { groupPrefix?: string },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  isGroup(tag: Pick<Tag, 'name'>): boolean {
    if (isReservedTagName(tag.name)) return false;
    return this.options.groupPrefix ? tag.name.startsWith(this.options.groupPrefix) : true;
  }

  /** SCIM displayName of a group tag: the tag name without the configured prefix. */
  displayName(tag: Pick<Tag, 'name'>): string {
    const prefix = this.options.groupPrefix;
    return prefix && tag.name.startsWith(prefix) ? tag.name.slice(prefix.length) : tag.name;
  }

  tagName(displayName: string): string {
    return `${this.options.groupPrefix ?? ''}${displayName}`;
  }

  /**
   * Every tag (one Kit call per 1,000 tags when cold). Cached until ttlMs passes or any replica writes;
   * `fresh` reads Kit regardless, for answers that must see tags created in Kit directly.
   */
  async all(opts: CallOptions & { fresh?: boolean }): Promise<Map<number, Tag>> {
    const gen = (await this.options.generation?.()) ?? 0;
    if (!opts.fresh && this.tags && this.tags.gen === gen && this.now() - this.tags.at < this.options.ttlMs) {
      return this.tags.byId;
    }
    this.loading ??= this.kit.tags
      .list(opts)
      .then((list) => {
        const byId = new Map(list.map((t) => [t.id, t]));
        this.tags = { at: this.now(), gen, byId };
        return byId;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  async groups(opts: CallOptions & { fresh?: boolean }): Promise<Tag[]> {
    return [...(await this.all(opts)).values()].filter((t) => this.isGroup(t));
  }

  /** As TagMembership.adoptGeneration: this replica's own write, kept true in place by `remember`. */
  adoptGeneration(generation: number): void {
    if (this.tags && this.tags.gen === generation - 1) this.tags.gen = generation;
  }

  /** Keeps the cache true after a change made through this server. */
  remember(tag: Tag): void {
    this.tags?.byId.set(tag.id, tag);
  }

  invalidate(): void {
    this.tags = undefined;
  }

  /** Finds or creates a reserved tag (bootstrap). */
  async ensure(name: string, opts: CallOptions): Promise<Tag> {
    const existing = [...(await this.all(opts)).values()].find((t) => t.name.toLowerCase() === name.toLowerCase());
    if (existing) return existing;
    // Another replica starting at the same moment may create it first: then theirs is the one.
    const { tag } = await this.kit.tags.createOrFind(name, opts);
    this.remember(tag);
    return tag;
  }
}
