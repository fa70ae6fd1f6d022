import { LRUCache } from 'lru-cache';
import type { ScimBody } from '../resources';
import { compileRenderer } from './resourceRenderer';
import { projectionOf, type ResourceShape } from './projection';

/**
 * Compiled projections of recent requests, by resource type and lists: IdPs send the same few selections over
 * and over (`excludedAttributes=groups` on every page of a walk), so each is worked out and compiled once.
 * Bounded: the lists are client text.
 */
export class ProjectionCache {
  private readonly entries: LRUCache<string, RenderUnder>;

  /** `endpoint`: the resource type's path under the SCIM base URL (`/Users`), for meta.location. */
  constructor(
    private readonly shape: () => ResourceShape,
    private readonly endpoint: string,
    maxEntries = 256,
  ) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  private shapeSeen?: ResourceShape;

  get(attributes?: string, excludedAttributes?: string): RenderUnder {
    const shape = this.shape();
    // The schema was declared again (another mapping): every compiled projection belongs to the old one.
    if (shape !== this.shapeSeen) {
      this.entries.clear();
      this.shapeSeen = shape;
    }
    const key = `${attributes ?? ''}\u0000${excludedAttributes ?? ''}`;
    let render = this.entries.get(key);
    if (render) return render;
    const compiled = compileRenderer(projectionOf(shape, attributes, excludedAttributes));
    const endpoint = this.endpoint;
    render = Object.assign(
      (resource: object, basepath: string) => compiled(resource as Record<string, unknown>, `${basepath}${endpoint}`),
      { pure: true as const },
    );
    this.entries.set(key, render);
    return render;
  }
}

/**
 * A compiled projection under a SCIM base URL; the same function for the same selection (see `pure`). It takes
 * any resource (`object`) because it is generated code that reads any resource type by name.
 */
export type RenderUnder = ((resource: object, basepath: string) => ScimBody) & {
  pure: true;
};
