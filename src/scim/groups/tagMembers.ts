import type { CallOptions, Tag } from '../../kit/types';
import { isCanonicalId, type MemberRef } from '../resources';
import { isDeleted } from '../userMapping';
import { subscriberToMember } from './groupMapping';
import type { KitApi } from '../../kit/api';
import type { SubscriberFieldMap } from '../fieldMap';
import type { GroupChange, GroupEvents } from './groupEvents';
import type { TagMembership } from './membership';
import { yieldEvery } from '../paging/timeSlices';

// A group's members in Kit: the subscribers carrying its tag. Reading costs one call per 1,000 members; adding
// is bulk (100 per call); removing is one call per member, since Kit has no bulk untag, so none is spent on an
// id known not to be a member. Keeps the membership index (membership.ts) exact for changes made here.

const INTERACTIVE: CallOptions = { priority: 'interactive' };
/** From this many removals on, a PATCH with a cold membership index reads the membership instead of guessing. */
const READ_MEMBERSHIP_FROM = 10;

export interface TagMembersDeps {
  kit: KitApi;
  membership: TagMembership;
  fields: SubscriberFieldMap;
  events: GroupEvents;
}

export class TagMembers {
  constructor(private readonly deps: TagMembersDeps) {}

  /** Every user carrying the tag (all states; deleted users are not users). One call per 1,000 members. */
  async read(tagId: number, opts: CallOptions, includeDeleted = false): Promise<MemberRef[]> {
    // A tag gone from Kit since it was loaded is Kit's 404, which the error table answers as a 404 as well.
    const refs: MemberRef[] = [];
    // Mapped in slices of time: a member is a mapped user, and a group may have tens of thousands.
    const slices = yieldEvery();
    for await (const page of this.deps.kit.tags.subscriberPages(tagId, { status: 'all' }, opts)) {
      for (const s of page.items) {
        await slices.pace();
        if (includeDeleted || !isDeleted(s, this.deps.fields)) refs.push(subscriberToMember(s, this.deps.fields));
      }
    }
    return refs;
  }

  /**
   * Of the ids a PATCH removes, those that may be members. The warm membership index answers for free; with a
   * cold one, many removals read the group's membership once (ceil(m/1000) calls) rather than spend a DELETE on
   * each id; a few are cheaper to send as they are (Kit's 404 for a non-member is harmless).
   */
  async actualAmong(tag: Tag, ids: string[]): Promise<string[]> {
    const candidates = ids.filter(isCanonicalId);
    if (candidates.length === 0) return [];
    const indexed = await this.deps.membership.taggedAmong(tag.id, candidates.map(Number));
    if (indexed) return indexed.map(String);
    if (candidates.length < READ_MEMBERSHIP_FROM) return candidates;
    const current = new Set((await this.read(tag.id, INTERACTIVE, true)).map((m) => m.value));
    return candidates.filter((i) => current.has(i));
  }

  /**
   * Tags the members with bulk calls (100 per call). Ids that cannot be users — not a number, a deleted user,
   * or unknown to Kit (reported by Kit's bulk failures) — are skipped, reported, and never half-applied.
   */
  async add(tag: Tag, ids: string[]): Promise<GroupChange> {
    if (ids.length === 0) return { skipped: [] };
    const deleted = await this.deps.membership.deletedIds(INTERACTIVE);
    const skipped = ids.filter((id) => !isCanonicalId(id) || deleted.has(Number(id)));
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
  async remove(tag: Tag, ids: string[]): Promise<void> {
    for (const id of ids.filter(isCanonicalId)) {
      await this.deps.kit.tags.untag(tag.id, Number(id), INTERACTIVE);
      // Noted one by one: an outage midway leaves the warm index exact for the ones already untagged (this
      // replica keeps using it after its own writes).
      this.deps.membership.noteTagged(tag.id, [Number(id)], false);
    }
  }
}
