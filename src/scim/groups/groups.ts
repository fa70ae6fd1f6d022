import SCIMMY from 'scimmy';
import type { KitApi } from '../../kit/api';
import { KitNotFoundError, KitValidationError } from '../../kit/errors';
import type { CallOptions, Tag, TaggedSubscriber } from '../../kit/types';
import { ScimBadRequest, ScimConflict, ScimNotFound } from '../errors';
import { asInvalidValue } from '../errorTable';
import { quoteInput } from '../inputLimits';
import type { SubscriberFieldMap } from '../fieldMap';
import { matchesFilter } from '../filter';
import type { ListQuery } from '../listQuery';
import { assertSameId, normalizePatch } from '../patchShapes';
import { isDeleted, subscriberToUser } from '../userMapping';
import { assertMemberBudget, planGroupPatch } from './groupPatch';
import type { TagMembership } from './membership';
import { normaliseTagName, RESERVED_TAG_PREFIX, RETIRED_GROUP_PREFIX, type TagCatalog } from './tagCatalog';

// SCIM Groups over Kit tags (CONTRACT.md "Groups"): membership is tagging, DELETE retires the tag (Kit has no
// tag deletion) by moving it into the reserved "scim:retired:" name space, which frees its name and hides it.

export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

export interface MemberRef {
  value: string;
  /** Absent when only the id is known (members just added, not read back from Kit). */
  display?: string;
  type: 'User';
}

export interface GroupChange {
  /** Members named in the request that are not users (unknown, deleted, or not a subscriber id): skipped. */
  skipped: string[];
}

export interface GroupEvents {
  changed(): Promise<void>;
  membersSkipped(groupId: string, ids: string[]): void;
}

export interface GroupDirectoryDeps {
  kit: KitApi;
  catalog: TagCatalog;
  membership: TagMembership;
  fields: SubscriberFieldMap;
  events: GroupEvents;
}

const INTERACTIVE: CallOptions = { priority: 'interactive' };
/** Canonical Kit ids only ("001" is not 1): one resource, one URL. */
const SUBSCRIBER_ID = /^[1-9]\d{0,14}$/;
/** From this many removals on, a PATCH with a cold membership index reads the membership instead of guessing. */
const READ_MEMBERSHIP_FROM = 10;

export class GroupDirectory {
  constructor(private readonly deps: GroupDirectoryDeps) {}

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(id: string, withMembers: boolean): Promise<Record<string, any>> {
    const tag = await this.load(id);
    return this.toGroup(tag, withMembers ? await this.members(tag.id, INTERACTIVE) : undefined);
  }

  async list(
    query: ListQuery,
    withMembers: boolean,
  ): Promise<{ resources: Record<string, any>[]; totalResults: number }> {
    const opts: CallOptions = { priority: 'interactive' };
    // Always Kit's current tag list: an IdP looks groups up by name before pushing, tags made in Kit included.
    const tags = (await this.deps.catalog.groups({ ...opts, fresh: true })).sort((a, b) => a.id - b.id);
    const needsMembersForFilter = Boolean(query.filterText && /members/i.test(query.filterText));
    let groups: Array<{ tag: Tag; members?: MemberRef[] }> = [];
    for (const tag of tags) {
      const members = needsMembersForFilter ? await this.members(tag.id, opts) : undefined;
      if (!query.filter || matchesFilter(this.toGroup(tag, members), query.filter)) groups.push({ tag, members });
    }
    if (query.sortBy === 'displayName') {
      groups.sort((a, b) => this.deps.catalog.displayName(a.tag).localeCompare(this.deps.catalog.displayName(b.tag)));
    }
    if (query.sortOrder === 'descending') groups.reverse();
    const totalResults = groups.length;
    groups = groups.slice(query.startIndex - 1, query.startIndex - 1 + query.count);
    const resources: Record<string, any>[] = [];
    for (const g of groups) {
      const members = withMembers
        ? (g.members ?? (await this.members(g.tag.id, { priority: 'background' })))
        : undefined;
      resources.push(this.toGroup(g.tag, members));
    }
    return { resources, totalResults };
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async create(input: Record<string, any>): Promise<{ group: Record<string, any>; change: GroupChange }> {
    const group = this.coerce(input);
    const displayName = this.requireDisplayName(group);
    const wanted = this.memberIds(group.members);
    await this.assertNameFree(displayName);
    let tag: Tag;
    try {
      tag = await this.deps.kit.tags.create(this.deps.catalog.tagName(displayName), INTERACTIVE);
    } catch (err) {
      throw this.nameClash(err, displayName);
    }
    this.deps.catalog.remember(tag);
    const change = await this.addMembers(tag, wanted);
    await this.deps.events.changed();
    const skipped = new Set(change.skipped);
    const added = wanted.filter((m) => !skipped.has(m));
    return { group: this.toGroup(tag, this.unreadMembers(added)), change };
  }

  async replace(id: string, input: Record<string, any>): Promise<{ group: Record<string, any>; change: GroupChange }> {
    // Everything that can be checked without Kit is checked before the first Kit call.
    assertSameId(input, id, 'Group');
    const group = this.coerce(input);
    const displayName = this.requireDisplayName(group);
    const wanted = this.memberIds(group.members);
    let tag = await this.load(id);
    if (displayName !== this.deps.catalog.displayName(tag)) tag = await this.rename(tag, displayName);
    const current = await this.members(tag.id, INTERACTIVE);
    const currentIds = new Set(current.map((m) => m.value));
    const wantedIds = new Set(wanted);
    const change = await this.addMembers(
      tag,
      wanted.filter((m) => !currentIds.has(m)),
    );
    await this.removeMembers(
      tag,
      current.map((m) => m.value).filter((m) => !wantedIds.has(m)),
    );
    await this.deps.events.changed();
    return { group: this.toGroup(tag, await this.members(tag.id, INTERACTIVE)), change };
  }

  /** Applies a PATCH without reading the membership unless an operation needs it; answers 204 (RFC 7644 §3.5.2). */
  async patch(id: string, body: unknown): Promise<GroupChange> {
    const plan = planGroupPatch(normalizePatch(body, 'Group'));
    const displayName = plan.displayName === undefined ? undefined : this.normalisedName(plan.displayName);
    if (displayName !== undefined) this.assertNotReserved(displayName);
    let tag = await this.load(id);
    if (displayName !== undefined && displayName !== this.deps.catalog.displayName(tag)) {
      tag = await this.rename(tag, displayName);
    }
    let change: GroupChange = { skipped: [] };
    if (plan.removeAll || plan.replaceMembers) {
      const current = (await this.members(tag.id, INTERACTIVE)).map((m) => m.value);
      const currentIds = new Set(current);
      const wanted = new Set(plan.replaceMembers ?? []);
      change = await this.addMembers(
        tag,
        [...wanted].filter((m) => !currentIds.has(m)),
      );
      await this.removeMembers(
        tag,
        current.filter((m) => !wanted.has(m)),
      );
    } else {
      change = await this.addMembers(tag, plan.add);
      // Kit has no bulk untag, so every removal is a call: none is spent on an id shown not to be a member.
      await this.removeMembers(tag, await this.actualMembers(tag, plan.remove));
    }
    await this.deps.events.changed();
    return change;
  }

  async delete(id: string): Promise<void> {
    const tag = await this.load(id);
    // Members first, the retirement last: a Kit outage midway leaves a group a repeated DELETE finishes. The
    // retired name is chosen free before any member is untagged, so a name clash (a tag made in Kit with that
    // name) cannot leave a group emptied but alive, failing 409 on every retry.
    let retiredName = this.freeRetiredName(tag, await this.deps.catalog.all(INTERACTIVE));
    const members = await this.members(tag.id, INTERACTIVE, true);
    await this.removeMembers(
      tag,
      members.map((m) => m.value),
    );
    let retired: Tag;
    try {
      retired = await this.deps.kit.tags.rename(tag.id, retiredName, INTERACTIVE);
    } catch (err) {
      if (!(err instanceof KitValidationError && err.isUniquenessClash)) throw err;
      // Our tag list was stale: read Kit's and take a name free there.
      retiredName = this.freeRetiredName(tag, await this.deps.catalog.all({ ...INTERACTIVE, fresh: true }));
      retired = await this.deps.kit.tags.rename(tag.id, retiredName, INTERACTIVE);
    }
    this.deps.catalog.remember(retired);
    await this.deps.events.changed();
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private toGroup(tag: Tag, members?: MemberRef[]): Record<string, any> {
    const group: Record<string, any> = {
      schemas: [CORE_GROUP],
      id: String(tag.id),
      displayName: this.deps.catalog.displayName(tag),
      meta: { resourceType: 'Group', created: tag.created_at, lastModified: tag.created_at },
    };
    if (members) group.members = members;
    return group;
  }

  private memberRef(s: TaggedSubscriber): MemberRef {
    return { value: String(s.id), display: subscriberToUser(s, this.deps.fields).userName, type: 'User' };
  }

  /** Every user carrying the tag (all states; deleted users are not users). One call per 1,000 members. */
  private async members(tagId: number, opts: CallOptions, includeDeleted = false): Promise<MemberRef[]> {
    const refs: MemberRef[] = [];
    try {
      for await (const page of this.deps.kit.tags.subscriberPages(tagId, { status: 'all' }, opts)) {
        for (const s of page.items) {
          if (includeDeleted || !isDeleted(s, this.deps.fields)) refs.push(this.memberRef(s));
        }
      }
    } catch (err) {
      if (err instanceof KitNotFoundError) throw new ScimNotFound(`Group ${tagId} not found`);
      throw err;
    }
    return refs;
  }

  /** The response of a create names the members just added, without reading them back from Kit. */
  private unreadMembers(ids: string[]): MemberRef[] {
    return ids.map((id) => ({ value: id, type: 'User' as const }));
  }

  private async load(id: string): Promise<Tag> {
    const notFound = new ScimNotFound(`Group ${id} not found`);
    if (!SUBSCRIBER_ID.test(id)) throw notFound;
    let tag = (await this.deps.catalog.all(INTERACTIVE)).get(Number(id));
    if (!tag) {
      // Possibly created through another replica since our tag list was cached.
      this.deps.catalog.invalidate();
      tag = (await this.deps.catalog.all(INTERACTIVE)).get(Number(id));
    }
    if (!tag || !this.deps.catalog.isGroup(tag)) throw notFound;
    return tag;
  }

  private coerce(input: Record<string, any>): Record<string, any> {
    const { externalId: _ignored, ...rest } = input;
    return JSON.parse(JSON.stringify(asInvalidValue(() => new SCIMMY.Schemas.Group(rest, 'in'))));
  }

  private requireDisplayName(group: Record<string, any>): string {
    const name = group.displayName;
    if (typeof name !== 'string' || normaliseTagName(name) === '') {
      throw new ScimBadRequest('invalidValue', 'A group needs a displayName (it becomes the Kit tag name).');
    }
    const normalised = this.normalisedName(name);
    this.assertNotReserved(normalised);
    return normalised;
  }

  /**
   * The name as Kit will store it (Kit trims), so the reserved-name check sees what Kit will hold: " scim:x"
   * would otherwise pass the check and land in the reserved name space, hiding the group.
   */
  private normalisedName(displayName: string): string {
    return normaliseTagName(displayName);
  }

  private memberIds(members: unknown): string[] {
    if (!Array.isArray(members)) return [];
    assertMemberBudget(members.length);
    return [...new Set(members.map((m) => String((m as Record<string, unknown>)?.value ?? '')))].filter(Boolean);
  }

  /** `scim:retired:<id>:<name>`, or with a `~n` suffix when a tag already holds that name. */
  private freeRetiredName(tag: Tag, tags: Map<number, Tag>): string {
    const taken = new Set([...tags.values()].filter((t) => t.id !== tag.id).map((t) => t.name.toLowerCase()));
    const base = `${RETIRED_GROUP_PREFIX}${tag.id}:${tag.name}`;
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}~${n}`;
    return name;
  }

  /**
   * Of the ids a PATCH removes, those that may be members. The warm membership index answers for free; with a
   * cold one, many removals read the group's membership once (ceil(m/1000) calls) rather than spend a DELETE on
   * each id; a few are cheaper to send as they are (Kit's 404 for a non-member is harmless).
   */
  private async actualMembers(tag: Tag, ids: string[]): Promise<string[]> {
    const candidates = ids.filter((i) => SUBSCRIBER_ID.test(i));
    if (candidates.length === 0) return [];
    const indexed = await this.deps.membership.taggedAmong(tag.id, candidates.map(Number));
    if (indexed) return indexed.map(String);
    if (candidates.length < READ_MEMBERSHIP_FROM) return candidates;
    const current = new Set((await this.members(tag.id, INTERACTIVE, true)).map((m) => m.value));
    return candidates.filter((i) => current.has(i));
  }

  /**
   * A tag in the reserved "scim:" name space (or outside the group prefix) is no group: creating or renaming
   * into it would answer success and then 404, as if the group had been deleted. Checked before any Kit call.
   */
  private assertNotReserved(displayName: string): void {
    if (!this.deps.catalog.isGroup({ name: this.deps.catalog.tagName(displayName) })) {
      throw new ScimBadRequest(
        'invalidValue',
        `${quoteInput(displayName)} is reserved: tag names starting with "${RESERVED_TAG_PREFIX}" hold this server's own bookkeeping.`,
      );
    }
  }

  private async assertNameFree(displayName: string, except?: number): Promise<void> {
    this.assertNotReserved(displayName);
    const wanted = this.deps.catalog.tagName(displayName).toLowerCase();
    const clash = [...(await this.deps.catalog.all(INTERACTIVE)).values()].find(
      (t) => t.name.toLowerCase() === wanted && t.id !== except,
    );
    if (clash)
      throw new ScimConflict(`A group or Kit tag named ${quoteInput(displayName)} already exists (id ${clash.id}).`);
  }

  private nameClash(err: unknown, displayName: string): unknown {
    if (err instanceof KitValidationError && err.isUniquenessClash) {
      this.deps.catalog.invalidate();
      return new ScimConflict(`A group or Kit tag named ${quoteInput(displayName)} already exists.`, err);
    }
    return err;
  }

  private async rename(tag: Tag, displayName: string): Promise<Tag> {
    await this.assertNameFree(displayName, tag.id);
    try {
      const renamed = await this.deps.kit.tags.rename(tag.id, this.deps.catalog.tagName(displayName), INTERACTIVE);
      this.deps.catalog.remember(renamed);
      return renamed;
    } catch (err) {
      throw this.nameClash(err, displayName);
    }
  }

  /**
   * Tags the members with bulk calls (100 per call). Ids that cannot be users — not a number, a deleted user,
   * or unknown to Kit (reported by Kit's bulk failures) — are skipped, reported, and never half-applied.
   */
  private async addMembers(tag: Tag, ids: string[]): Promise<GroupChange> {
    if (ids.length === 0) return { skipped: [] };
    const deleted = await this.deps.membership.deletedIds(INTERACTIVE);
    const skipped = ids.filter((id) => !SUBSCRIBER_ID.test(id) || deleted.has(Number(id)));
    const skippedIds = new Set(skipped);
    const valid = ids.filter((id) => !skippedIds.has(id)).map(Number);
    if (valid.length > 0) {
      const result = await this.deps.kit.bulk
        .tagSubscribers(
          valid.map((subscriber_id) => ({ tag_id: tag.id, subscriber_id })),
          INTERACTIVE,
        )
        .catch((err) => {
          // Some chunks may have been applied: the warm index can no longer say who is a member.
          this.deps.membership.invalidate();
          throw err;
        });
      const failed = new Set(result.failures.map((f) => f.item.subscriber_id));
      skipped.push(...[...failed].map(String));
      this.deps.membership.noteTagged(
        tag.id,
        valid.filter((id) => !failed.has(id)),
        true,
      );
    }
    if (skipped.length > 0) this.deps.events.membersSkipped(String(tag.id), skipped);
    return { skipped };
  }

  /** One call per member: Kit has no bulk untag. Already-absent members are fine (idempotent remove). */
  private async removeMembers(tag: Tag, ids: string[]): Promise<void> {
    for (const id of ids.filter((i) => SUBSCRIBER_ID.test(i))) {
      try {
        await this.deps.kit.tags.untagSubscriber(tag.id, Number(id), INTERACTIVE);
      } catch (err) {
        if (!(err instanceof KitNotFoundError)) throw err;
      }
      // Noted one by one: an outage midway leaves the warm index exact for the ones already untagged (this
      // replica keeps using it after its own writes, issue #13).
      this.deps.membership.noteTagged(tag.id, [Number(id)], false);
    }
  }
}
