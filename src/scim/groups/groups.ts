import SCIMMY from 'scimmy';
import type { KitApi } from '../../kit/api';
import type { CallOptions, Tag } from '../../kit/types';
import { ScimBadRequest, ScimConflict, ScimNotFound } from '../errors';
import { asInvalidValue } from '../errors';
import { identityKey } from '../identity';
import { quoteInput } from '../inputLimits';
import type { SubscriberFieldMap } from '../fieldMap';
import { filterReads, type ListQuery } from '../listQuery';
import { assertSameId, normalizePatch } from '../patchShapes';
import { isCanonicalId, type MemberRef, type ResourcePage, type ScimBody, type ScimGroup } from '../resources';
import { membersDigest, tagToGroup } from './groupMapping';
import { type GroupStamp, type GroupStamps, MemoryGroupStamps } from '../journal/groupStamps';
import type { GroupChange, GroupEvents, GroupWrite } from './groupEvents';
import { TagMembers } from './tagMembers';
import { assertMemberBudget, planGroupPatch, readMemberIds } from './groupPatch';
import type { TagMembership } from './membership';
import { yieldEvery } from '../paging/timeSlices';
import type { CursorPosition, CursorWalk, PageCursors } from '../paging/pageCursors';
import {
  isReservedTagName,
  normaliseTagName,
  RESERVED_TAG_PREFIX,
  RETIRED_GROUP_PREFIX,
  type TagCatalog,
} from './tagCatalog';

// SCIM Groups over Kit tags (docs/provisioning.md "Groups"): membership is tagging, DELETE retires the tag (Kit has no
// tag deletion) by moving it into the reserved "scim:retired:" name space, which frees its name and hides it.

export { CORE_GROUP } from './groupMapping';
export type { MemberRef } from '../resources';
export type { GroupChange, GroupEvents, GroupWrite } from './groupEvents';

export interface GroupDirectoryDeps {
  kit: KitApi;
  catalog: TagCatalog;
  membership: TagMembership;
  fields: SubscriberFieldMap;
  events: GroupEvents;
  /** Durable last-modified stamps (Redis when configured); one process's memory when absent. */
  stamps?: GroupStamps;
  now?: () => Date;
  /** RFC 9865 cursors (Kit v4 only). */
  cursors?: PageCursors;
}

const INTERACTIVE: CallOptions = { priority: 'interactive' };
/** From this many removals on, a PATCH with a cold membership index reads the membership instead of guessing. */

export class GroupDirectory {
  private readonly tagMembers: TagMembers;
  private readonly stamps: GroupStamps;
  private readonly now: () => Date;

  constructor(private readonly deps: GroupDirectoryDeps) {
    this.tagMembers = new TagMembers(deps);
    this.stamps = deps.stamps ?? new MemoryGroupStamps();
    this.now = deps.now ?? (() => new Date());
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(id: string, withMembers: boolean): Promise<ScimGroup> {
    const tag = await this.load(id);
    const members = withMembers ? await this.tagMembers.read(tag.id, INTERACTIVE) : undefined;
    return (await this.present([{ tag, members }]))[0];
  }

  async list(query: ListQuery, withMembers: boolean): Promise<ResourcePage<ScimGroup>> {
    const opts: CallOptions = { priority: 'interactive' };
    // Always Kit's current tag list: an IdP looks groups up by name before pushing, tags made in Kit included.
    const tags = (await this.deps.catalog.groups({ ...opts, fresh: true })).sort((a, b) => a.id - b.id);
    // A delta read (`meta.lastModified gt T`) reads every membership, so that a tagging done in Kit is seen
    // (and stamped) by the read that asks for changes.
    const delta = (query.filterAttributes ?? []).some((p) => p.toLowerCase().endsWith('meta.lastmodified'));
    const needsMembersForFilter = filterReads(query, 'members') || delta;
    let groups: Array<{ tag: Tag; members?: MemberRef[] }> = [];
    const read: Array<{ tag: Tag; members?: MemberRef[] }> = [];
    // An account may hold tens of thousands of tags: the filter decides them in slices of time.
    const slices = yieldEvery();
    for (const tag of tags) {
      await slices.pace();
      read.push({ tag, members: needsMembersForFilter ? await this.tagMembers.read(tag.id, opts) : undefined });
    }
    const stamps = await this.settle(read);
    for (const g of read) {
      await slices.pace();
      if (!query.matches || query.matches(this.toGroup(g.tag, g.members, stamps.get(g.tag.id)))) groups.push(g);
    }
    if (query.sortBy === 'displayName') {
      groups.sort((a, b) => this.deps.catalog.displayName(a.tag).localeCompare(this.deps.catalog.displayName(b.tag)));
    }
    if (query.sortOrder === 'descending') groups.reverse();
    const totalResults = groups.length;
    let next: string | undefined;
    if (query.cursor !== undefined) ({ groups, next } = this.cursorPage(query, groups));
    else groups = groups.slice(query.startIndex - 1, query.startIndex - 1 + query.count);
    const shown: Array<{ tag: Tag; members?: MemberRef[] }> = [];
    for (const g of groups) {
      const members = withMembers
        ? (g.members ?? (await this.tagMembers.read(g.tag.id, { priority: 'background' })))
        : undefined;
      shown.push({ tag: g.tag, members });
    }
    const resources = await this.present(shown);
    // The groups are all listed in memory, so a cursor page's totalResults is exact and costs nothing.
    return query.cursor === undefined
      ? { resources, totalResults }
      : { resources, totalResults, cursor: { next, totalResults } };
  }

  /**
   * A page by cursor (RFC 9865) of the groups listed, in their order. In id order the cursor holds the last id
   * answered, so a group created or retired between two pages moves no other across the page boundary; in
   * displayName order it holds how many were answered.
   */
  private cursorPage<G extends { tag: Tag }>(query: ListQuery, groups: G[]): { groups: G[]; next?: string } {
    const cursors = this.deps.cursors;
    if (!cursors) {
      throw new ScimBadRequest('invalidValue', "Cursor paging needs Kit's v4 API; page by startIndex instead.");
    }
    const scope = `Groups\n${query.filterText ?? ''}\n${query.sortBy ?? ''}\n${query.sortOrder}`;
    const at: CursorPosition = query.cursor ? cursors.read(query.cursor, scope, query.count) : { after: null, skip: 0 };
    const byId = query.sortBy !== 'displayName';
    const descending = query.sortOrder === 'descending';
    let from = at.skip;
    if (byId && at.after !== null) {
      const after = Number(at.after);
      from = groups.findIndex((g) => (descending ? g.tag.id < after : g.tag.id > after));
      if (from < 0) from = groups.length;
    }
    const page = groups.slice(from, from + query.count);
    // count=0 asks for totalResults only (RFC 9865 §2): a walk of pages of none has no next page.
    if (query.count === 0 || from + page.length >= groups.length) return { groups: page };
    const position: CursorWalk = byId
      ? { after: String(page[page.length - 1].tag.id), skip: 0, count: query.count }
      : { after: null, skip: from + page.length, count: query.count };
    return { groups: page, next: cursors.issue(scope, position) };
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async create(input: ScimBody): Promise<{ group: ScimGroup; change: GroupChange }> {
    const group = this.coerce(input);
    const displayName = this.requireDisplayName(group);
    const wanted = this.memberIds(group.members);
    await this.assertNameFree(displayName);
    const tag = await this.deps.kit.tags.createIfFree(this.deps.catalog.tagName(displayName), INTERACTIVE);
    if (!tag) throw this.nameClash(displayName);
    this.deps.catalog.remember(tag);
    const change = await this.tagMembers.add(tag, wanted);
    await this.deps.events.changed();
    const skipped = new Set(change.skipped);
    const added = wanted.filter((m) => !skipped.has(m));
    this.written(tag, 'created', true, added.length > 0);
    // Read back, so that the create answers members as every later read does (with their display).
    const members = added.length > 0 ? await this.tagMembers.read(tag.id, INTERACTIVE) : [];
    return { group: (await this.present([{ tag, members }], true))[0], change };
  }

  async replace(id: string, input: ScimBody): Promise<{ group: ScimGroup; change: GroupChange }> {
    // Everything that can be checked without Kit is checked before the first Kit call.
    assertSameId(input, id, 'Group');
    const group = this.coerce(input);
    const displayName = this.requireDisplayName(group);
    const wanted = this.memberIds(group.members);
    let tag = await this.load(id);
    const renamed = displayName !== this.deps.catalog.displayName(tag);
    if (renamed) tag = await this.rename(tag, displayName);
    const current = await this.tagMembers.read(tag.id, INTERACTIVE);
    const currentIds = new Set(current.map((m) => m.value));
    const wantedIds = new Set(wanted);
    const toAdd = wanted.filter((m) => !currentIds.has(m));
    const change = await this.tagMembers.add(tag, toAdd);
    const toRemove = current.map((m) => m.value).filter((m) => !wantedIds.has(m));
    await this.tagMembers.remove(tag, toRemove);
    await this.deps.events.changed();
    const membersChanged = toAdd.length > change.skipped.length || toRemove.length > 0;
    this.written(tag, 'replaced', renamed, membersChanged);
    const members = await this.tagMembers.read(tag.id, INTERACTIVE);
    return { group: (await this.present([{ tag, members }], renamed || membersChanged))[0], change };
  }

  /** Applies a PATCH without reading the membership unless an operation needs it; answers 204 (RFC 7644 §3.5.2). */
  async patch(id: string, body: unknown): Promise<GroupChange> {
    const plan = planGroupPatch(normalizePatch(body, 'Group'));
    const displayName = plan.displayName === undefined ? undefined : this.normalisedName(plan.displayName);
    if (displayName !== undefined) this.assertNotReserved(displayName);
    let tag = await this.load(id);
    const renamed = displayName !== undefined && displayName !== this.deps.catalog.displayName(tag);
    if (renamed) tag = await this.rename(tag, displayName);
    let change: GroupChange = { skipped: [] };
    let toAdd: string[];
    let toRemove: string[];
    if (plan.removeAll || plan.replaceMembers) {
      const current = (await this.tagMembers.read(tag.id, INTERACTIVE)).map((m) => m.value);
      const currentIds = new Set(current);
      const wanted = new Set(plan.replaceMembers ?? []);
      toAdd = [...wanted].filter((m) => !currentIds.has(m));
      change = await this.tagMembers.add(tag, toAdd);
      toRemove = current.filter((m) => !wanted.has(m));
      await this.tagMembers.remove(tag, toRemove);
    } else {
      toAdd = plan.add;
      change = await this.tagMembers.add(tag, toAdd);
      // Kit has no bulk untag, so every removal is a call: none is spent on an id shown not to be a member.
      toRemove = await this.tagMembers.actualAmong(tag, plan.remove);
      await this.tagMembers.remove(tag, toRemove);
    }
    await this.deps.events.changed();
    // An add of an existing member is not told from a new one here: `members` is named whenever one was sent.
    const membersChanged = toAdd.length > change.skipped.length || toRemove.length > 0;
    this.written(tag, 'patched', renamed, membersChanged);
    // Not read back (204): the stamp forgets the member digest, and the next read with members keeps it anew.
    if (renamed || membersChanged) await this.settle([{ tag }], true);
    return change;
  }

  async delete(id: string): Promise<void> {
    const tag = await this.load(id);
    if (!this.deps.kit.capabilities.tagRename) {
      // Kit v3 can neither delete nor rename a tag: untag every member and leave the (empty) tag, and with it
      // the group (docs/design/kit-v3.md).
      const members = await this.tagMembers.read(tag.id, INTERACTIVE, true);
      await this.tagMembers.remove(
        tag,
        members.map((m) => m.value),
      );
      await this.deps.events.changed();
      this.written(tag, 'deleted', false, false);
      return;
    }
    // Members first, the retirement last: a Kit outage midway leaves a group a repeated DELETE finishes. The
    // retired name is chosen free before any member is untagged, so a name clash (a tag made in Kit with that
    // name) cannot leave a group emptied but alive, failing 409 on every retry.
    let retiredName = this.freeRetiredName(tag, await this.deps.catalog.all(INTERACTIVE));
    const members = await this.tagMembers.read(tag.id, INTERACTIVE, true);
    await this.tagMembers.remove(
      tag,
      members.map((m) => m.value),
    );
    let retired = await this.deps.kit.tags.renameIfFree(tag.id, retiredName, INTERACTIVE);
    if (!retired) {
      // Our tag list was stale: read Kit's and take a name free there.
      retiredName = this.freeRetiredName(tag, await this.deps.catalog.all({ ...INTERACTIVE, fresh: true }));
      retired = await this.deps.kit.tags.renameIfFree(tag.id, retiredName, INTERACTIVE);
      if (!retired)
        throw new ScimConflict(`Kit refused every free retired name for group ${tag.id}; retry the DELETE.`);
    }
    this.deps.catalog.remember(retired);
    await this.deps.events.changed();
    this.written(tag, 'deleted', false, false);
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private written(tag: Tag, kind: GroupWrite['kind'], renamed: boolean, membersChanged: boolean): void {
    const attributes = [
      ...(renamed || kind === 'created' ? ['displayName'] : []),
      ...(membersChanged ? ['members'] : []),
    ];
    try {
      this.deps.events.written?.({ groupId: String(tag.id), kind, attributes });
    } catch {
      // The write is done; a listener's failure is its own.
    }
  }

  private toGroup(tag: Tag, members?: MemberRef[], stamp?: GroupStamp): ScimGroup {
    return tagToGroup(tag, this.deps.catalog.displayName(tag), members, stamp?.at);
  }

  /** Groups as read (or just written, `written`), with the stamps that what was read settles. */
  private async present(entries: Array<{ tag: Tag; members?: MemberRef[] }>, written = false): Promise<ScimGroup[]> {
    const stamps = await this.settle(entries, written);
    return entries.map((e) => this.toGroup(e.tag, e.members, stamps.get(e.tag.id)));
  }

  private settle(
    entries: Array<{ tag: Tag; members?: MemberRef[] }>,
    written = false,
  ): Promise<Map<number, GroupStamp>> {
    const sights = entries.map((e) => ({
      id: e.tag.id,
      name: e.tag.name,
      members: e.members ? membersDigest(e.members) : undefined,
    }));
    return this.stamps.settle(sights, this.now().getTime(), written);
  }

  private async load(id: string): Promise<Tag> {
    const notFound = new ScimNotFound(`Group ${id} not found`);
    if (!isCanonicalId(id)) throw notFound;
    let tag = (await this.deps.catalog.all(INTERACTIVE)).get(Number(id));
    if (!tag) {
      // Possibly created through another replica since our tag list was cached.
      this.deps.catalog.invalidate();
      tag = (await this.deps.catalog.all(INTERACTIVE)).get(Number(id));
    }
    if (!tag || !this.deps.catalog.isGroup(tag)) throw notFound;
    return tag;
  }

  /** The group as scimmy coerces it, but for `members`: up to 10,000 of them are read by memberIds. */
  private coerce(input: ScimBody): ScimBody {
    const { externalId: _ignored, members, ...rest } = input;
    const group = JSON.parse(JSON.stringify(asInvalidValue(() => new SCIMMY.Schemas.Group(rest, 'in'))));
    return members === undefined || members === null ? group : { ...group, members };
  }

  private requireDisplayName(group: ScimBody): string {
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
    if (members === undefined) return [];
    if (!Array.isArray(members)) throw new ScimBadRequest('invalidValue', 'members must be an array of members.');
    assertMemberBudget(members.length);
    return [...new Set(readMemberIds(members, 'members'))].filter(Boolean);
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
   * A tag in the reserved "scim:" name space (or outside the group prefix) is no group: creating or renaming
   * into it would answer success and then 404, as if the group had been deleted. Compared by identity key, so
   * that "\u200bscim:deleted-users" or a fullwidth "ｓcim:…" cannot pass for a name outside it. Checked before
   * any Kit call.
   */
  private assertNotReserved(displayName: string): void {
    const tagName = this.deps.catalog.tagName(displayName);
    if (this.deps.catalog.isGroup({ name: tagName })) return;
    const looksAlike = isReservedTagName(tagName) && !tagName.toLowerCase().startsWith(RESERVED_TAG_PREFIX);
    const why = looksAlike
      ? ` it looks like a reserved name once normalized (invisible characters removed, Unicode compatibility forms ` +
        `folded by NFKC, letter case ignored, it reads ${quoteInput(identityKey(tagName))}), and`
      : '';
    throw new ScimBadRequest(
      'invalidValue',
      `${quoteInput(displayName)} is reserved:${why} tag names starting with "${RESERVED_TAG_PREFIX}" hold this server's own bookkeeping.`,
    );
  }

  private async assertNameFree(displayName: string, except?: number): Promise<void> {
    this.assertNotReserved(displayName);
    const tagName = this.deps.catalog.tagName(displayName);
    const wanted = identityKey(tagName);
    const clash = [...(await this.deps.catalog.all(INTERACTIVE)).values()].find(
      (t) => t.id !== except && identityKey(t.name) === wanted,
    );
    if (!clash) return;
    if (clash.name.toLowerCase() === tagName.toLowerCase())
      throw new ScimConflict(`A group or Kit tag named ${quoteInput(displayName)} already exists (id ${clash.id}).`);
    throw new ScimConflict(
      `${quoteInput(displayName)} differs from the existing group or Kit tag ${quoteInput(clash.name)} (id ${clash.id}) ` +
        'only by invisible characters, Unicode compatibility forms (such as fullwidth letters) or letter case: ' +
        'they would read as one name.',
    );
  }

  /** Kit found the name taken although our tag list did not show it: that list is stale. */
  private nameClash(displayName: string): ScimConflict {
    this.deps.catalog.invalidate();
    return new ScimConflict(`A group or Kit tag named ${quoteInput(displayName)} already exists.`);
  }

  private async rename(tag: Tag, displayName: string): Promise<Tag> {
    if (!this.deps.kit.capabilities.tagRename) {
      throw new ScimBadRequest(
        'mutability',
        `This Kit account is reached through Kit's v3 API, which cannot rename tags: group ${tag.id} keeps the name ` +
          `${quoteInput(this.deps.catalog.displayName(tag))}. Create a new group with the new name and move the members.`,
      );
    }
    await this.assertNameFree(displayName, tag.id);
    const renamed = await this.deps.kit.tags.renameIfFree(tag.id, this.deps.catalog.tagName(displayName), INTERACTIVE);
    if (!renamed) throw this.nameClash(displayName);
    this.deps.catalog.remember(renamed);
    return renamed;
  }
}
