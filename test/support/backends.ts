import type { Backend } from './harness';

// What the end-to-end suites expect of each Kit API behind the port: the endpoints a SCIM operation reaches and
// what it costs. The suites run once per backend (describe.each over BACKENDS); only these figures differ.

export interface BackendExpectations {
  /** The email lookup. */
  lookup: string;
  /** Creating a subscriber. */
  create: string;
  /** Kit calls of POST /Users for a new email: lookup(s), the create, and v3's read-back. */
  createCalls: number;
  /** Kit calls of a `userName eq` lookup of an email no one has (v3 looks among the unsubscribed too). */
  absentLookupCalls: number;
  unsubscribe: string;
  update: string;
  /** Tagging many members (v4 bulk, 100 per call; v3 one read + one subscribe per member). */
  tagging: string;
  taggingCalls(members: number): number;
  untag: string;
  createTag: string;
  tagMembers: string;
  tagsOfSubscriber: string;
  /** Subscribers per Kit page of a walk. */
  pageSize: number;
}

export const EXPECT: Record<Backend, BackendExpectations> = {
  v4: {
    lookup: 'GET /v4/subscribers',
    create: 'POST /v4/subscribers',
    createCalls: 2,
    absentLookupCalls: 1,
    unsubscribe: 'POST /v4/subscribers/:id/unsubscribe',
    update: 'PUT /v4/subscribers/:id',
    tagging: 'POST /v4/bulk/tags/subscribers',
    taggingCalls: (n) => Math.ceil(n / 100),
    untag: 'DELETE /v4/tags/:tag_id/subscribers/:id',
    createTag: 'POST /v4/tags',
    tagMembers: 'GET /v4/tags/:tag_id/subscribers',
    tagsOfSubscriber: 'GET /v4/subscribers/:id/tags',
    pageSize: 1000,
  },
  v3: {
    lookup: 'GET /v3/subscribers',
    create: 'POST /v3/tags/:tag_id/subscribe',
    createCalls: 4,
    absentLookupCalls: 2,
    unsubscribe: 'PUT /v3/unsubscribe',
    update: 'PUT /v3/subscribers/:id',
    tagging: 'POST /v3/tags/:tag_id/subscribe',
    taggingCalls: (n) => n,
    untag: 'DELETE /v3/subscribers/:id/tags/:tag_id',
    createTag: 'POST /v3/tags',
    tagMembers: 'GET /v3/tags/:tag_id/subscriptions',
    tagsOfSubscriber: 'GET /v3/subscribers/:id/tags',
    pageSize: 50,
  },
};
