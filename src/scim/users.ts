import type { KitApi } from '../kit/api';
import type { CallOptions, Subscriber, SubscriberState } from '../kit/types';
import { asInvalidValue, ScimBadRequest, ScimConflict, ScimNotFound } from './errors';
import { emailDefect, identityKey, sameIdentity } from './identity';
import { LIFECYCLE_FIELDS, type SubscriberFieldMap } from './fieldMap';
import { LocalUserNameClaims, type UserNameClaims } from './userNameClaims';
import { crowdedArray, MAX_USER_VALUES, quoteInput } from './inputLimits';
import type { ListQuery } from './listQuery';
import { isCanonicalId, type ScimBody, type ScimUser } from './resources';
import type { CursorPager } from './paging/cursorPager';
import { assertSameId, booleanise, checkUserPatch, normalizePatch, withFilteredEntries } from './patchShapes';
import { FULL_PATH, splitUnmapped, type UnmappedPolicy } from './unmappedAttributes';
import { deletedUserDetail, reactivationDetail } from './reactivation';
import type { PageCursors } from './paging/pageCursors';
import {
  type ChangeJournal,
  type ChangeKind,
  type IntentTarget,
  JournalUnavailableError,
} from './journal/changeJournal';
import { LastModifiedOverlay } from './journal/lastModifiedOverlay';
import { type ReadPurpose, SubscriberLookups } from './subscriberLookups';
import { UserListing } from './userListing';
import type { MirrorPages, UserGroupsSource, UserList } from './userSources';
import { applyPatch } from './scimmy';
import { type UserSchema, userSchemaFor } from './userSchema';
import {
  type GroupRef,
  isDeleted,
  kitEmailOf,
  subscriberChanges,
  subscriberToUser,
  type SubscriberWrite,
  userToSubscriberWrite,
  addressChange,
  filterView,
  looksLikeEmail,
  userPartsOf,
} from './userMapping';

export type UserOperation = 'create' | 'replace' | 'patch' | 'delete';

/** What a PUT or PATCH did: the user as Kit now holds it, and whether Kit was written at all. */
export interface UserWrite {
  user: ScimUser;
  /** False when Kit already held every value sent: nothing was written, meta.lastModified and the ETag stay. */
  changed: boolean;
}

/** What the Users resource reports outward: metrics, audit, cache invalidation. */
export interface UserEvents {
  reactivationRejected(operation: UserOperation, email: string): void;
  deprovisioned(kind: 'deactivate' | 'delete', id: string): void;
  changed(): Promise<void>;
  /**
   * Kit's upsert answered 200, not 201: someone created this email in Kit between the lookup and the create,
   * and the upsert has updated that subscriber. Audited; the IdP gets a 409.
   */
  createRaced?(email: string, subscriberId: number): void;
  /** A write named attributes of the SCIM User schemas the mapping gives no home in Kit; they were left out. */
  unmappedIgnored?(operation: UserOperation, paths: string[]): void;
}

export interface UserDirectoryDeps {
  kit: KitApi;
  fields: SubscriberFieldMap;
  pager: CursorPager;
  groups: UserGroupsSource;
  events: UserEvents;
  now?: () => Date;
  /** Where single subscribers are read from (mirror, lookup snapshot, Kit); Kit alone by default. */
  lookups?: SubscriberLookups;
  /**
   * The change journal. With it, a deactivation's meta.lastModified is kept there instead of in a
   * Kit write, and changes learned from Kit (webhooks, re-walks) move meta.lastModified.
   */
  journal?: ChangeJournal;
  /** The subscriber mirror's pages, for list walks at 0 Kit calls while it is complete. */
  mirror?: MirrorPages;
  /** What a write does with attributes the mapping does not hold (SCIM_UNMAPPED_ATTRIBUTES); ignored by default. */
  unmapped?: UnmappedPolicy;
  /** RFC 9865 cursors (Kit v4 only). */
  cursors?: PageCursors;
  /** Who may write a non-email userName now (userNameClaims.ts); this process's writes only by default. */
  userNameClaims?: UserNameClaims;
}

const INTERACTIVE: CallOptions = { priority: 'interactive' };
const USER_NAME_PART = userPartsOf(['userName']);

export class UserDirectory {
  private readonly now: () => Date;
  private readonly lookups: SubscriberLookups;
  private readonly overlay?: LastModifiedOverlay;
  private readonly listing: UserListing;
  private readonly userNameClaims: UserNameClaims;
  /** The User schema of this directory's mapping: coercion, PATCH, request checks, rendering, /Schemas. */
  readonly schema: UserSchema;

  constructor(private readonly deps: UserDirectoryDeps) {
    this.schema = userSchemaFor(deps.fields.mapping);
    this.now = deps.now ?? (() => new Date());
    this.userNameClaims = deps.userNameClaims ?? new LocalUserNameClaims();
    this.lookups = deps.lookups ?? new SubscriberLookups({ kit: deps.kit });
    this.overlay = deps.journal
      ? new LastModifiedOverlay(deps.journal, deps.fields, () => this.now().getTime())
      : undefined;
    this.listing = new UserListing({
      ...deps,
      find: (id) => this.find(id, 'answer'),
      byEmail: (email) => this.lookups.byEmail(email, 'answer', INTERACTIVE),
      known: (subs) => this.known(subs),
    });
  }

  /** Subscribers with the journal's meta.lastModified folded in. */
  private async known<T extends Subscriber>(subs: T[], observe = true): Promise<T[]> {
    return this.overlay ? this.overlay.apply(subs, observe) : subs;
  }

  /**
   * Best effort: the journal's entry for one of the server's own writes. Kit's stamp carries the same time
   * (the entry uses it, so the journal never moves meta.lastModified past what the write answered).
   */
  private async journal(sub: Subscriber, kind: ChangeKind, attributes?: string[]): Promise<void> {
    const at = Date.parse(sub.fields?.[this.lastModifiedKey] ?? '') || this.now().getTime();
    await this.deps.journal
      ?.record(
        { subscriberId: sub.id, at, kind, source: 'scim', state: sub.state, ...(attributes && { attributes }) },
        { done: true },
      )
      .catch(() => undefined);
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(id: string, withGroups = true): Promise<ScimUser> {
    const sub = await this.load(id, 'answer');
    const groups = withGroups ? await this.deps.groups.ofSubscriber(sub.id, INTERACTIVE) : undefined;
    return subscriberToUser(sub, this.deps.fields, groups);
  }

  /** A page of users for a list query; see userListing.ts for what each filter costs in Kit calls. */
  list(query: ListQuery, withGroups = true): Promise<UserList> {
    return this.listing.list(query, withGroups);
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async create(input: ScimBody): Promise<ScimUser> {
    const user = this.coerce(input, 'create');
    const email = this.requireEmail(user);
    this.assertHoldableEmail(email);
    // Mapped before the lookup: a value Kit cannot hold (too long, wrong type) is refused before any Kit call.
    const write = userToSubscriberWrite(user, this.deps.fields, email);
    return this.oneWriterPerUserName(user.userName, () => this.createChecked(user, email, write));
  }

  /**
   * Writes that claim one non-email userName run one at a time (userNameClaims.ts: on this replica, and on
   * every replica sharing Redis), so that the second of two concurrent creates (an IdP retrying, two IdP
   * workers, two replicas) finds the first's user and is a 409, not a second subscriber.
   */
  private oneWriterPerUserName<T>(userName: unknown, work: () => Promise<T>): Promise<T> {
    if (typeof userName !== 'string' || looksLikeEmail(userName)) return work();
    return this.userNameClaims.holding(identityKey(userName), work);
  }

  private async createChecked(user: ScimBody, email: string, write: SubscriberWrite): Promise<ScimUser> {
    // The IdP's own lookup a moment ago usually answered this already (lookupSnapshot.ts): no second read.
    const existing = await this.lookups.byEmail(email, 'beforeWrite', INTERACTIVE);
    if (existing) {
      // Kit's POST is an upsert: touching it now would overwrite the existing subscriber's name.
      if (isDeleted(existing, this.deps.fields)) {
        // GET says 404 for this user, so "cannot reactivate an inactive subscriber" would read as nonsense.
        this.deps.events.reactivationRejected('create', email);
        throw new ScimConflict(
          deletedUserDetail(email, existing.id, existing.fields?.[this.deps.fields.key(LIFECYCLE_FIELDS.deletedAt)]),
        );
      }
      if (existing.state !== 'active') {
        this.deps.events.reactivationRejected('create', email);
        throw new ScimConflict(reactivationDetail(existing.state, email));
      }
      throw new ScimConflict(`A user with email ${email} already exists (id ${existing.id}).`);
    }
    await this.assertUserNameFree(user.userName);
    const state = user.active === false ? 'inactive' : 'active';
    const { subscriber, created } = await this.ownWrite({ email }, state, () =>
      this.deps.kit.subscribers.upsert(
        {
          ...write,
          fields: { ...this.withoutNulls(write.fields), [this.lastModifiedKey]: this.now().toISOString() },
          // Kit applies `state` only when the upsert creates the subscriber, which is the case here.
          state,
        },
        INTERACTIVE,
      ),
    ).catch(async (err) => {
      // Kit may have created it all the same: the IdP's retry must look again, not trust "absent".
      await this.lookups.forget({ email });
      throw err;
    });
    await this.deps.events.changed();
    await this.lookups.learned(subscriber);
    if (!created) {
      this.deps.events.createRaced?.(email, subscriber.id);
      throw new ScimConflict(
        `A user with email ${email} was created in Kit concurrently (id ${subscriber.id}), between the lookup and this create; Kit's upsert has updated that subscriber with this request's attributes.`,
      );
    }
    await this.journal(subscriber, 'created');
    return subscriberToUser(subscriber, this.deps.fields, []);
  }

  async replace(id: string, input: ScimBody): Promise<ScimUser> {
    return (await this.replaceReporting(id, input)).user;
  }

  async patch(id: string, body: unknown): Promise<ScimUser> {
    return (await this.patchReporting(id, body)).user;
  }

  /** PUT /Users/{id}, saying whether anything was written to Kit. */
  async replaceReporting(id: string, input: ScimBody): Promise<UserWrite> {
    // Everything that can be checked without Kit is checked before the first Kit call.
    assertSameId(input, id, 'User');
    const coerced = this.coerce(input, 'replace');
    this.requireEmail(coerced);
    const current = await this.load(id, 'beforeWrite');
    const { email, user } = this.addressOf(coerced, current);
    return this.oneWriterPerUserName(user.userName, () => this.apply(current, user, email, 'replace'));
  }

  /** PATCH /Users/{id}, saying whether anything was written to Kit. */
  async patchReporting(id: string, body: unknown): Promise<UserWrite> {
    // Shape, paths and values are checked against the schema before the two Kit reads a PATCH needs.
    const message = normalizePatch(body, 'User');
    message.Operations.forEach((o, i) => this.assertFewValues(o.value, `Operations[${i}].value`));
    const plan = checkUserPatch(message, this.schema, this.deps.unmapped);
    this.reportIgnored('patch', plan.ignored);
    const current = await this.load(id, 'beforeWrite');
    const groups = await this.deps.groups.ofSubscriber(current.id, INTERACTIVE);
    const before = subscriberToUser(current, this.deps.fields, groups);
    // Every operation named only attributes the mapping does not hold: nothing to write.
    if (plan.message.Operations.length === 0) return { user: before, changed: false };
    const source = asInvalidValue(() => this.schema.coerce(before, 'out'));
    let patched: ScimBody | undefined;
    await applyPatch(withFilteredEntries(plan.message, before), source, (instance) => {
      patched = JSON.parse(JSON.stringify(instance));
    });
    if (!patched) return { user: before, changed: false };
    const { email, user } = this.addressOf(patched, current);
    return this.oneWriterPerUserName(user.userName, () => this.apply(current, user, email, 'patch', groups));
  }

  async delete(id: string): Promise<void> {
    const current = await this.load(id, 'beforeWrite');
    // Order matters for a Kit outage midway: the tombstone goes last, so a repeated DELETE finishes the job.
    await this.deps.groups.removeAll(current.id, INTERACTIVE);
    // Where tagging subscribes the email (Kit v3), the tombstone tag can only go on while the subscriber is still
    // active, so before the unsubscribe; a user deactivated earlier is tombstoned by the field alone
    // (docs/design/kit-v3.md).
    const tagFirst = this.deps.kit.capabilities.taggingSubscribes;
    if (tagFirst && current.state === 'active') await this.deps.groups.markDeleted(current.id, INTERACTIVE);
    if (current.state === 'active') {
      // The tombstone write below answers with the subscriber: Kit's 204 needs no read-back.
      await this.ownWrite({ subscriberId: current.id }, 'inactive', () =>
        this.deps.kit.subscribers.unsubscribe(current.id, INTERACTIVE, current),
      );
    }
    if (!tagFirst) await this.deps.groups.markDeleted(current.id, INTERACTIVE);
    const at = this.now().toISOString();
    const tombstoned = await this.deps.kit.subscribers.update(
      current.id,
      // The deletion moves meta.lastModified too, in the same write (no extra Kit call).
      { fields: { [this.deps.fields.key(LIFECYCLE_FIELDS.deletedAt)]: at, [this.lastModifiedKey]: at } },
      INTERACTIVE,
    );
    await this.deps.events.changed();
    await this.lookups.learned(tombstoned);
    await this.journal(tombstoned, 'deleted');
    this.deps.events.deprovisioned('delete', id);
  }

  // ---- internals -----------------------------------------------------------------------------------------

  /**
   * A Kit write that changes a subscriber's state, with its intent recorded first (write-ahead): Kit's webhook
   * for it comes from a background job, before or after this call's answer, and must read as this write
   * coming back, never as a change made in Kit. A write that fails withdraws the intent (the next read
   * decides what Kit holds); one that succeeds leaves it to expire, covering a delivery that comes later still.
   */
  private async ownWrite<T>(target: IntentTarget, state: SubscriberState, write: () => Promise<T>): Promise<T> {
    const journal = this.deps.journal;
    await journal?.intend(target, state);
    try {
      return await write();
    } catch (err) {
      await journal?.withdraw(target);
      throw err;
    }
  }

  private get lastModifiedKey(): string {
    return this.deps.fields.key(LIFECYCLE_FIELDS.lastModified);
  }

  private async apply(
    current: Subscriber,
    user: ScimBody,
    email: string,
    operation: 'replace' | 'patch',
    groups?: GroupRef[],
  ): Promise<UserWrite> {
    const wantsActive = user.active === undefined ? undefined : user.active === true || user.active === 'true';
    if (wantsActive === true && current.state !== 'active') {
      this.deps.events.reactivationRejected(operation, current.email_address);
      throw new ScimBadRequest('mutability', reactivationDetail(current.state, current.email_address));
    }
    const changes = subscriberChanges(current, userToSubscriberWrite(user, this.deps.fields, email));
    if (changes.email_address !== undefined) await this.assertAddressFree(current, changes.email_address);
    // The user's own userName, in any letter case, is no conflict: only a change to another name is looked up.
    if (!sameIdentity(String(user.userName ?? ''), String(this.userNameOf(current) ?? ''))) {
      await this.assertUserNameFree(user.userName, current);
    }
    let sub = current;
    const deactivate = wantsActive === false && current.state === 'active';
    const hasChanges = Object.keys(changes).length > 0;
    // With a journal, a deactivation that changes nothing else is one Kit call: its meta.lastModified is the
    // journal's entry, recorded before the one-way unsubscribe for the reason below. A journal that cannot
    // record it in Redis now falls back to the stamp in Kit (one more call): a spooled entry would reach the
    // other replicas late, and until then they would take Kit's state for an unsubscribe made in Kit, where
    // the stamp tells them it is the server's own write (journal/changeJournal.ts, LearnedFrom).
    const stampInJournal = deactivate && !hasChanges && (await this.journalDeactivation(current));
    if ((hasChanges || deactivate) && !stampInJournal) {
      // Every change moves meta.lastModified, deactivation included: an IGA delta read (`meta.lastModified gt
      // T`) must never miss one. The stamp rides on the one update any other change needs, and is written
      // before the unsubscribe: that is one-way and carries no fields, so a stamp after it could be lost to a
      // failure in between, leaving a deactivation no delta read would ever see. (A failed unsubscribe after
      // the stamp only makes the user show up in a delta read unchanged, which costs the reader nothing.)
      sub = await this.deps.kit.subscribers
        .update(
          current.id,
          { ...changes, fields: { ...changes.fields, [this.lastModifiedKey]: this.now().toISOString() } },
          INTERACTIVE,
        )
        .catch(async (err) => {
          // Whether Kit moved the address is unknown: neither address may be answered from memory.
          if (changes.email_address !== undefined) {
            await this.lookups.forget({ email: current.email_address, id: current.id });
            await this.lookups.forget({ email: changes.email_address });
          }
          throw err;
        });
      // The old address is free now: a create with it must find nobody, not the subscriber remembered under it.
      if (changes.email_address !== undefined) await this.lookups.forget({ email: current.email_address });
      await this.lookups.learned(sub);
      if (!deactivate) await this.journal(sub, 'updated', this.changedAttributes(current, changes));
    }
    if (deactivate) {
      sub = await this.unsubscribe(current, sub);
      if (!stampInJournal) await this.journal(sub, 'deactivated');
    }
    if (hasChanges || deactivate) {
      await this.deps.events.changed();
      [sub] = await this.known([sub], false);
    }
    const memberOf = groups ?? (await this.deps.groups.ofSubscriber(current.id, INTERACTIVE));
    return { user: subscriberToUser(sub, this.deps.fields, memberOf), changed: hasChanges || deactivate };
  }

  /** Whether Kit keeps no userName of its own for this subscriber, so that its userName reads as its address. */
  private mirrorsAddress(current: Subscriber): boolean {
    const userName = this.deps.fields.attributes.find((a) => a.path === 'userName');
    return !userName || !current.fields?.[this.deps.fields.key(userName.label)];
  }

  /**
   * The address a PUT or PATCH asks Kit to hold (userMapping.ts addressChange), checked before any write: one
   * Kit can hold, and a change only where the mapping lets the address change.
   */
  private addressOf(next: ScimBody, current: Subscriber): { email: string; user: ScimBody } {
    const { email, user } = addressChange(next, current.email_address, this.mirrorsAddress(current));
    const address = this.requireEmail(email === undefined ? {} : { userName: email });
    this.assertHoldableEmail(address, current);
    if (address.toLowerCase() !== current.email_address.toLowerCase() && this.addressImmutable) {
      throw new ScimBadRequest(
        'mutability',
        `The email address is immutable here: the attribute mapping holds emails (Kit's email_address) with ` +
          `"mutability: immutable", so it is set when a user is created and never changed by a write. Kit keeps ` +
          `${quoteInput(current.email_address)}; change it in Kit, or create the user anew.`,
      );
    }
    return { email: address, user };
  }

  private get addressImmutable(): boolean {
    return this.deps.fields.mapping.user.some((a) => a.target.kind === 'email_address' && a.mutability === 'immutable');
  }

  /**
   * Kit keeps one subscriber per address and refuses a second (422 "already been taken"): asked first, so the
   * IdP learns which user holds it. A subscriber taking it between the two calls still gets Kit's refusal,
   * which is a 409 all the same (http/errorTable.ts).
   */
  private async assertAddressFree(current: Subscriber, email: string): Promise<void> {
    const holder = await this.lookups.byEmail(email, 'answer', INTERACTIVE);
    if (!holder || holder.id === current.id) return;
    const whose = isDeleted(holder, this.deps.fields)
      ? `a deleted user (Kit subscriber ${holder.id}, kept by Kit as a tombstone)`
      : `another user (id ${holder.id}, Kit state ${holder.state})`;
    throw new ScimConflict(
      `The email address ${quoteInput(email)} is already held by ${whose}; Kit keeps one subscriber per address, so user ${current.id} keeps ${quoteInput(current.email_address)}.`,
    );
  }

  /**
   * RFC 7644 §3.3: a userName another user holds is a 409 uniqueness, compared by identity key (identity.ts) as
   * RFC 7643 §4.1.1 makes userName case-insensitively unique. Kit keys subscribers by email only, so a userName
   * that is not an email (kept in its own Kit field) would otherwise be written twice; an email userName is
   * Kit's address, whose uniqueness the email checks above keep at their own cost. What a lookup costs is in
   * userListing.ts (userNameHolders). Kit has no uniqueness on a field to refuse a second holder, so writes of
   * one name are serialized (oneWriterPerUserName).
   */
  private async assertUserNameFree(userName: unknown, current?: Subscriber): Promise<void> {
    if (typeof userName !== 'string' || looksLikeEmail(userName) || identityKey(userName) === '') return;
    if (!this.deps.fields.attributes.some((a) => a.path === 'userName')) return;
    const holder = (await this.listing.userNameHolders(userName)).find((s) => s.id !== current?.id);
    if (!holder) return;
    const held = this.userNameOf(holder);
    throw new ScimConflict(
      `The userName ${quoteInput(userName)} is already held by another user (id ${holder.id}` +
        (typeof held === 'string' && held !== userName ? `, as ${quoteInput(held)}` : '') +
        `); userNames are unique regardless of letter case.`,
    );
  }

  /** The userName a subscriber reads as: its own Kit field, else its address. */
  private userNameOf(sub: Subscriber): unknown {
    return filterView(sub, this.deps.fields, USER_NAME_PART).userName;
  }

  /** What a change notice names: the attributes behind the Kit changes, userName too where it reads as the address. */
  private changedAttributes(current: Subscriber, changes: Partial<SubscriberWrite>): string[] {
    const names = this.deps.fields.attributesOf(changes);
    if (changes.email_address !== undefined && this.mirrorsAddress(current) && !names.includes('userName')) {
      const userNameField = this.deps.fields.attributes.find((a) => a.path === 'userName');
      const keepsOwn = userNameField && changes.fields?.[this.deps.fields.key(userNameField.label)];
      if (!keepsOwn) names.push('userName');
    }
    return names;
  }

  private async journalDeactivation(current: Subscriber): Promise<boolean> {
    if (!this.deps.journal) return false;
    try {
      await this.deps.journal.record(
        {
          subscriberId: current.id,
          at: this.now().getTime(),
          kind: 'deactivated',
          source: 'scim',
          state: 'inactive',
        },
        { durable: true },
      );
      return true;
    } catch (err) {
      if (err instanceof JournalUnavailableError) return false;
      throw err;
    }
  }

  private async unsubscribe(current: Subscriber, written: Subscriber): Promise<Subscriber> {
    try {
      const sub = await this.ownWrite({ subscriberId: current.id }, 'inactive', () =>
        this.deps.kit.subscribers.unsubscribe(current.id, INTERACTIVE, written),
      );
      await this.lookups.learned(sub);
      this.deps.events.deprovisioned('deactivate', String(current.id));
      return sub;
    } catch (err) {
      // Whether Kit applied it is unknown: nothing remembered about this subscriber may stand in for a read.
      await this.lookups.forget({ email: current.email_address, id: current.id });
      throw err;
    }
  }

  /** The subscriber behind a SCIM id; 404 for anything that is not a live, undeleted subscriber. */
  private async load(id: string, purpose: ReadPurpose): Promise<Subscriber> {
    const sub = await this.find(id, purpose);
    if (!sub) throw new ScimNotFound(`User ${id} not found`);
    return sub;
  }

  /**
   * The live, undeleted subscriber behind a SCIM id, if any (from the mirror or the lookup snapshot when they
   * can answer, else one Kit call for a canonical id; none for any other id), with the journal's
   * meta.lastModified folded in.
   */
  private async find(id: string, purpose: ReadPurpose): Promise<Subscriber | undefined> {
    if (!isCanonicalId(id)) return undefined;
    const sub = await this.lookups.byId(Number(id), purpose, INTERACTIVE);
    if (!sub || isDeleted(sub, this.deps.fields)) return undefined;
    return (await this.known([sub], purpose === 'answer'))[0];
  }

  /** Refuses, before scimmy reads it, a User value list no Kit subscriber could hold. */
  private assertFewValues(body: unknown, path?: string): void {
    const crowded = crowdedArray(body, MAX_USER_VALUES, path);
    if (crowded !== undefined) {
      throw new ScimBadRequest(
        'invalidValue',
        `${quoteInput(crowded)} holds more than ${MAX_USER_VALUES} values; a User may have at most ${MAX_USER_VALUES} in one attribute.`,
      );
    }
  }

  private reportIgnored(operation: UserOperation, paths: string[]): void {
    if (paths.length) this.deps.events.unmappedIgnored?.(operation, paths);
  }

  /**
   * A POST or PUT body coerced to the schema. scimmy drops what the schema does not declare; attributes RFC 7643
   * defines that the mapping does not hold are named first (ignored), or refused before any Kit call.
   */
  private coerce(input: ScimBody, operation: 'create' | 'replace'): ScimBody {
    const extensions = Object.keys(input).flatMap((k) => this.schema.extension(k)?.id ?? []);
    const unmapped = splitUnmapped(input, this.schema, extensions).paths;
    if (unmapped.length && this.deps.unmapped === 'refuse') {
      throw new ScimBadRequest(
        'invalidValue',
        `${quoteInput(unmapped[0], FULL_PATH)} is not held by this server's attribute mapping; send the User without it.`,
      );
    }
    this.reportIgnored(operation, unmapped);
    this.assertFewValues(input);
    const instance = asInvalidValue(() => this.schema.coerce(booleanise(input) as ScimBody, 'in'));
    return JSON.parse(JSON.stringify(instance));
  }

  private requireEmail(user: ScimBody): string {
    const email = kitEmailOf(user);
    if (!email) {
      throw new ScimBadRequest(
        'invalidValue',
        'A Kit subscriber needs an email address: userName is not an email and emails holds no valid address.',
      );
    }
    return email;
  }

  /**
   * An address Kit would hold as a look-alike of another (identity.ts) is refused. The subscriber's own address,
   * as Kit already holds it (made in Kit directly, say), is kept whatever it contains.
   */
  private assertHoldableEmail(email: string, current?: Subscriber): void {
    const defect =
      current && email.toLowerCase() === current.email_address.toLowerCase() ? undefined : emailDefect(email);
    if (defect) {
      throw new ScimBadRequest(
        'invalidValue',
        `The email address ${quoteInput(email)} ${defect}: Kit would store it as an address distinct from the one it ` +
          `reads as (${quoteInput(identityKey(email))}). Send the address without them.`,
      );
    }
  }

  private withoutNulls(fields: Record<string, string | null>): Record<string, string> {
    return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as Record<string, string>;
  }
}
