import path from 'node:path';
import type { Config, KitCredentials } from '../config/environment';
import { pathProblem } from '../config/filePaths';
import type { KitClient } from '../kit/client';
import { KitAuthError } from '../kit/errors';
import { findField } from '../kit/resources/customFields';
import type { Tag } from '../kit/types';
import type { RedisLink } from '../platform/redisLink';
import { SubscriberFieldMap } from '../scim/fieldMap';
import { DELETED_USERS_TAG, RESERVED_TAG_PREFIX } from '../scim/groups/tagCatalog';
import { type Add, DOCTOR_CALL, explain, type Waiting } from './checks';

// The checks of one Kit account (one tenant): reachable, credential accepted, OAuth token store, reserved
// fields and tags, the group prefix. Run once per tenant; they spend about four calls of that account's budget.

export interface KitAccountCheck {
  config: Config;
  credentials: Exclude<KitCredentials, { kind: 'v3Secret' }>;
  kit: KitClient;
  link?: RedisLink;
  existingGroupsOk: boolean;
  /** Waits for a Kit call slot, telling the operator what it waits for. */
  kitCall: Waiting;
}

export async function checkKitAccount(account: KitAccountCheck, add: Add): Promise<void> {
  const { config, credentials, kit, kitCall } = account;
  // 2 + 3. Kit reachable, credential accepted: one call answers both.
  let kitOk = false;
  try {
    const info = await kitCall('Kit account', () => kit.account(DOCTOR_CALL));
    add('kitReachable', 'pass', `${config.kit.baseUrl} answered`);
    add('kitCredential', 'pass', `accepted for the Kit account "${info.account?.name ?? '(unnamed)'}"`);
    kitOk = true;
  } catch (err) {
    if (err instanceof KitAuthError) {
      add('kitReachable', 'pass', `${config.kit.baseUrl} answered (HTTP ${err.status ?? 401})`);
      add(
        'kitCredential',
        'fail',
        `Kit rejected the credential (HTTP ${err.status ?? 401})`,
        credentials.kind === 'apiKey'
          ? 'Use a v4 API key (Kit → Settings → Developer): v3 keys and secrets are refused; check it was copied whole.'
          : 'Refresh the OAuth tokens (a rotated refresh token is single-use); check KIT_CLIENT_ID/SECRET and KIT_TOKEN_STORE.',
      );
    } else {
      add(
        'kitReachable',
        'fail',
        `no usable answer from ${config.kit.baseUrl}: ${explain(err)}`,
        'Check KIT_API_URL, DNS and that outbound HTTPS to it is allowed (proxy, firewall); retry if Kit reports an outage.',
      );
      add('kitCredential', 'skip', 'not run: Kit did not answer');
    }
  }

  // 4. OAuth token store.
  if (credentials.kind !== 'oauth') add('tokenStore', 'skip', 'not used: an API key');
  else checkTokenStore(credentials.tokenStorePath, account.link, add);

  // 5. Reserved custom fields and tags, created as the server's start-up would.
  if (!kitOk) {
    add('reservedFields', 'skip', 'not run: Kit is not usable');
    add('reservedTags', 'skip', 'not run: Kit is not usable');
    add('groupPrefix', 'skip', 'not run: Kit is not usable');
    return;
  }
  await checkReservedFields(kit, kitCall, add, SubscriberFieldMap.labels(config.scim.mapping));
  let tags: Tag[] | undefined;
  try {
    tags = await kitCall('tags', () => kit.tags.list(DOCTOR_CALL));
    const present = tags.some((t) => t.name === DELETED_USERS_TAG);
    if (present) add('reservedTags', 'pass', `"${DELETED_USERS_TAG}" present`);
    else {
      try {
        await kitCall('creating a tag', () => kit.tags.create(DELETED_USERS_TAG, DOCTOR_CALL));
        add('reservedTags', 'pass', `"${DELETED_USERS_TAG}" was missing and is now created`);
      } catch (err) {
        add(
          'reservedTags',
          'fail',
          `"${DELETED_USERS_TAG}" is missing and could not be created: ${explain(err)}`,
          `Create the tag "${DELETED_USERS_TAG}" in Kit (Grow → Subscribers → Tags), or use a key allowed to create tags.`,
        );
      }
    }
  } catch (err) {
    add('reservedTags', 'fail', `could not list tags: ${explain(err)}`, 'See the Kit checks above; retry.');
  }
  // 6. The group prefix against the tags the account already has.
  if (tags) checkGroupPrefix(config.scim.groupTagPrefix, tags, account.existingGroupsOk, add);
  else add('groupPrefix', 'skip', 'not run: tags could not be listed');
}

async function checkReservedFields(
  kit: KitClient,
  kitCall: Waiting,
  add: Add,
  labels: readonly string[] = SubscriberFieldMap.labels(),
): Promise<void> {
  let existing;
  try {
    existing = await kitCall('custom fields', () => kit.customFields.list(DOCTOR_CALL));
  } catch (err) {
    add('reservedFields', 'fail', `could not list custom fields: ${explain(err)}`, 'See the Kit checks above; retry.');
    return;
  }
  const missing = labels.filter((l) => !findField(existing, l));
  const created: string[] = [];
  const failed: string[] = [];
  let reason = '';
  for (const label of missing) {
    try {
      await kitCall(`creating the custom field ${label}`, () => kit.customFields.create(label, DOCTOR_CALL));
      created.push(label);
    } catch (err) {
      failed.push(label);
      reason ||= explain(err);
    }
  }
  if (failed.length > 0) {
    add(
      'reservedFields',
      'fail',
      `missing and could not be created: ${failed.join(', ')} (Kit: ${reason})`,
      `Create these custom fields in Kit by hand (Grow → Subscribers → Custom fields), with exactly these labels, or use a key allowed to create fields; without them Kit would silently drop the values.`,
    );
  } else if (created.length > 0) {
    add(
      'reservedFields',
      'pass',
      `${labels.length - created.length} of ${labels.length} present; created the missing ${created.join(', ')} (as the server's start-up would)`,
    );
  } else add('reservedFields', 'pass', `all ${labels.length} present (${labels.join(', ')})`);
}

const MAX_NAMED = 5;

function checkGroupPrefix(prefix: string | undefined, tags: Tag[], existingOk: boolean, add: Add): void {
  const reserved = (t: Tag) => t.name.toLowerCase().startsWith(RESERVED_TAG_PREFIX);
  if (prefix === undefined) {
    const groups = tags.filter((t) => !reserved(t));
    add(
      'groupPrefix',
      'pass',
      `no GROUP_TAG_PREFIX: every tag outside "${RESERVED_TAG_PREFIX}" is a SCIM group (${groups.length} today)`,
      groups.length > 0
        ? 'If these are marketing tags, set GROUP_TAG_PREFIX (e.g. "idp:") so the IdP sees only its own groups.'
        : undefined,
    );
    return;
  }
  if (prefix.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
    add(
      'groupPrefix',
      'fail',
      `GROUP_TAG_PREFIX "${prefix}" is inside the server's reserved "${RESERVED_TAG_PREFIX}" names: no group could ever be seen`,
      'Choose a prefix that does not start with "scim:", e.g. "idp:".',
    );
    return;
  }
  const clashing = tags.filter((t) => t.name.startsWith(prefix) && !reserved(t));
  if (clashing.length === 0) {
    add('groupPrefix', 'pass', `no existing tag starts with "${prefix}"`);
  } else if (existingOk) {
    add('groupPrefix', 'pass', `${clashing.length} tag(s) start with "${prefix}"; accepted as this server's groups`);
  } else {
    const named = clashing.slice(0, MAX_NAMED).map((t) => `"${t.name}"`);
    const more = clashing.length > MAX_NAMED ? ` and ${clashing.length - MAX_NAMED} more` : '';
    add(
      'groupPrefix',
      'fail',
      `${clashing.length} existing tag(s) already start with "${prefix}" and would appear in the IdP as groups: ${named.join(', ')}${more}`,
      `Choose a GROUP_TAG_PREFIX no existing tag uses, or rename those tags in Kit; if this server made them (a re-run after go-live), run doctor with --existing-groups.`,
    );
  }
}

function checkTokenStore(storePath: string | undefined, link: RedisLink | undefined, add: Add): void {
  if (!storePath) {
    add('tokenStore', 'fail', 'no KIT_TOKEN_STORE', 'Set KIT_TOKEN_STORE to a path every replica shares, or to redis.');
    return;
  }
  if (storePath === 'redis') {
    if (link?.healthy) add('tokenStore', 'pass', 'kept in Redis, which answers');
    else add('tokenStore', 'fail', 'kept in Redis, which does not answer', 'See the Redis check below.');
    return;
  }
  const resolved = path.resolve(storePath);
  const problem = pathProblem(resolved, 'write');
  if (!problem) add('tokenStore', 'pass', `${resolved} is writable`);
  else
    add(
      'tokenStore',
      'fail',
      `KIT_TOKEN_STORE: cannot use ${resolved} for the rotated Kit OAuth tokens (${problem})`,
      'Make the file (or its directory) writable by the server user (DATA_DIR holds it by default); rotated refresh tokens are lost otherwise and the next restart cannot authenticate.',
    );
}
