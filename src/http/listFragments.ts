import type { RenderResource } from '../scim/render';

// The JSON text of each resource of a list answer, kept for resources that cannot change. Users of
// cached Kit pages are deep-frozen objects, mapped once per subscriber and per set of groups
// (scim/mappedUsers.ts): the text the same render function makes of the same frozen user under the same base URL
// is always the same, so it is serialised once and reused by every page that lists that user while the cache
// holds it. The answer is then one JSON.stringify of the list's envelope with the kept texts put in place, the
// same bytes as one JSON.stringify of the whole (test/http/listFragments.test.ts).

interface Kept {
  render: RenderResource;
  basepath: string;
  json: string;
}

const kept = new WeakMap<object, Kept>();

/**
 * The resource's JSON text as `present` renders it. Kept only for frozen resources and renderers that promise
 * the same output for the same input (`render.pure`); anything else is serialised afresh.
 */
export function resourceJson(
  // Any resource type a renderer takes (see RenderResource); only its identity and frozenness matter here.
  resource: object,
  basepath: string,
  render: RenderResource,
  present: () => unknown,
): string {
  if (!render.pure || !Object.isFrozen(resource)) return JSON.stringify(present());
  const known = kept.get(resource);
  if (known && known.render === render && known.basepath === basepath) return known.json;
  const json = JSON.stringify(present());
  kept.set(resource, { render, basepath, json });
  return json;
}

/** A ListResponse body around resources already serialised: byte for byte JSON.stringify of the whole. */
export function listResponseJson(
  schema: string,
  resources: string[],
  totalResults: number,
  startIndex: number,
  /**
   * A page asked for by cursor (RFC 9865 §2): nextCursor instead of startIndex, and totalResults only where the
   * page knows it.
   */
  cursor?: { next?: string; totalResults?: number },
): string {
  const envelope = JSON.stringify(
    cursor
      ? {
          schemas: [schema],
          totalResults: cursor.totalResults,
          itemsPerPage: resources.length,
          nextCursor: cursor.next,
          Resources: [],
        }
      : { schemas: [schema], totalResults, startIndex, itemsPerPage: resources.length, Resources: [] },
  );
  // The envelope ends in `"Resources":[]}`: the resources go between the brackets.
  return `${envelope.slice(0, -2)}${resources.join(',')}]}`;
}
