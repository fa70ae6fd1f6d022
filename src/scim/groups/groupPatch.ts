import { ScimBadRequest } from '../errors';
import { parseFilter } from '../filter';
import { MAX_GROUP_MEMBERS_PER_REQUEST } from '../inputLimits';
import type { PatchMessage } from '../patchShapes';

// A Group PATCH becomes a plan of tag operations without reading the membership first: Okta's and Entra's
// Group Push name the members they add and remove, so the whole member list is only read when an operation
// really needs it ("remove all", "replace members").

export interface GroupPatchPlan {
  displayName?: string;
  add: string[];
  remove: string[];
  /** `remove members` without a value: take every member out. */
  removeAll: boolean;
  /** `replace members`: the membership becomes exactly this list. */
  replaceMembers?: string[];
}

/** Refuses a request that names more members than one request may change (a bound on its Kit calls). */
export function assertMemberBudget(named: number): void {
  if (named > MAX_GROUP_MEMBERS_PER_REQUEST) {
    throw new ScimBadRequest(
      'invalidValue',
      `A request may name at most ${MAX_GROUP_MEMBERS_PER_REQUEST} members; this one names ${named}. Send the change in several requests.`,
    );
  }
}

/**
 * The user ids of a member list (`[{ "value": "42" }, …]`, or one member), read by us rather than by scimmy's
 * schema coercion, which costs ~0.2 ms a member in one synchronous pass (seconds for 10,000). `where` names
 * the list in the error: "Operation 2", "members".
 */
export function readMemberIds(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((m) => {
    const id = m && typeof m === 'object' ? (m as Record<string, unknown>).value : m;
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw new ScimBadRequest('invalidValue', `${where}: each member needs a "value" (a user id).`);
    }
    return String(id);
  });
}

function displayNameOf(value: unknown, index: number): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ScimBadRequest('invalidValue', `Operation ${index + 1}: displayName must be a non-empty string.`);
  }
  return value;
}

/** `members[value eq "42"]` (or `or`-joined) → ["42"]. */
function readFilteredMembers(path: string, index: number): string[] {
  const inner = path.slice(path.indexOf('[') + 1, path.lastIndexOf(']'));
  const ids: string[] = [];
  for (const term of parseFilter(inner)) {
    const expr = Object.entries(term).find(([k]) => k.toLowerCase() === 'value')?.[1];
    if (!Array.isArray(expr) || String(expr[0]).toLowerCase() !== 'eq' || Object.keys(term).length !== 1) {
      throw new ScimBadRequest(
        'invalidPath',
        `Operation ${index + 1}: only members[value eq "…"] filters are supported.`,
      );
    }
    ids.push(String(expr[1]));
  }
  return ids;
}

export function planGroupPatch(message: PatchMessage): GroupPatchPlan {
  const plan: GroupPatchPlan = { add: [], remove: [], removeAll: false };
  // Sets, not arrays: a request may name thousands of members, and `includes` per member would be quadratic.
  let add = new Set<string>();
  let remove = new Set<string>();
  let replace: Set<string> | undefined;
  let named = 0;
  const memberIds = (value: unknown, index: number): string[] => {
    named += Array.isArray(value) ? value.length : 1;
    assertMemberBudget(named);
    return readMemberIds(value, `Operation ${index + 1}`);
  };
  const filteredMembers = (path: string, index: number): string[] => {
    const ids = readFilteredMembers(path, index);
    named += ids.length;
    assertMemberBudget(named);
    return ids;
  };
  const addMembers = (ids: string[]) => {
    for (const id of ids) {
      if (replace) replace.add(id);
      else add.add(id);
      remove.delete(id);
    }
  };
  const removeMembers = (ids: string[]) => {
    for (const id of ids) {
      replace?.delete(id);
      add.delete(id);
      remove.add(id);
    }
  };
  const startOver = (members?: string[]) => {
    replace = members ? new Set(members) : undefined;
    add = new Set();
    remove = new Set();
  };
  message.Operations.forEach((op, i) => {
    const path = op.path?.trim();
    const lower = path?.toLowerCase();
    if (!path) {
      // Okta's rename: {"op":"replace","value":{"id":"…","displayName":"…"}}; members may ride along.
      if (!op.value || typeof op.value !== 'object' || Array.isArray(op.value)) {
        throw new ScimBadRequest('invalidValue', `Operation ${i + 1}: a PATCH without a path needs an object value.`);
      }
      for (const [key, value] of Object.entries(op.value as Record<string, unknown>)) {
        const k = key.toLowerCase();
        if (k === 'displayname') plan.displayName = displayNameOf(value, i);
        else if (k === 'members') {
          if (op.op === 'replace') {
            startOver(memberIds(value, i));
            plan.removeAll = false;
          } else if (op.op === 'add') addMembers(memberIds(value, i));
          else removeMembers(memberIds(value, i));
        } else if (!['id', 'schemas', 'meta', 'externalid'].includes(k)) {
          throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: "${key}" cannot be changed on a group.`);
        }
      }
      return;
    }
    if (lower === 'displayname') {
      if (op.op === 'remove') throw new ScimBadRequest('mutability', 'displayName is required and cannot be removed.');
      plan.displayName = displayNameOf(op.value, i);
    } else if (lower === 'members') {
      if (op.op === 'add') addMembers(memberIds(op.value, i));
      else if (op.op === 'remove') {
        // Entra sends the members to remove as the value; without one, RFC 7644 §3.5.2.2 removes them all.
        if (op.value === undefined || (Array.isArray(op.value) && op.value.length === 0)) {
          // Members added by later operations of the same request stay: "remove all" is "replace with none".
          plan.removeAll = true;
          startOver([]);
        } else removeMembers(memberIds(op.value, i));
      } else {
        startOver(memberIds(op.value ?? [], i));
        plan.removeAll = false;
      }
    } else if (lower?.startsWith('members[')) {
      if (op.op !== 'remove') {
        throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: a filtered members path only supports remove.`);
      }
      removeMembers(filteredMembers(path, i));
    } else if (lower === 'externalid') {
      // Entra sends its object id as a group externalId; Kit tags hold only a name. Documented as not stored
      // (docs/provisioning.md, Limitations) rather than failing every Entra group push.
    } else {
      throw new ScimBadRequest('invalidPath', `Operation ${i + 1}: "${path}" cannot be changed on a group.`);
    }
  });
  plan.add = [...add];
  plan.remove = [...remove];
  if (replace) plan.replaceMembers = [...replace];
  return plan;
}
