// The SCIM messages this server answers and reads (RFC 7643 §4, RFC 7644 §3.4.2, §3.5.2), as TypeScript
// types. What a client sends is checked by the schemas (scimmy) at run time, so it is typed as JSON of unknown
// shape (ScimBody) until then; what the server builds is typed exactly.

/** Kit ids are positive integers below 10^15; only their canonical spelling is an id ("001" is not 1). */
const CANONICAL_ID = /^[1-9]\d{0,14}$/;

/** Whether a SCIM id is a Kit id as this server writes it: one resource, one URL. */
export function isCanonicalId(id: string): boolean {
  return CANONICAL_ID.test(id);
}

/** A JSON object from a client (a resource body, or one coerced by its schema): attribute → JSON value. */
export type ScimBody = { [attribute: string]: unknown };

export interface ScimMeta {
  resourceType: 'User' | 'Group';
  created: string;
  lastModified: string;
  /** Added at the HTTP edge (publicUrls.ts, etag.ts). */
  location?: string;
  version?: string;
}

/** A user's group, read-only (RFC 7643 §4.1.2): the tag as a group. */
export interface GroupRef {
  value: string;
  display: string;
}

export interface ScimEmail {
  value: string;
  type: 'work';
  primary: true;
}

export interface ScimUser {
  schemas: string[];
  id: string;
  userName: string;
  externalId?: string;
  displayName?: string;
  title?: string;
  name?: { givenName?: string; familyName?: string };
  active: boolean;
  emails: ScimEmail[];
  groups?: Array<GroupRef & { type: 'direct' }>;
  meta: ScimMeta;
  /** Extension attributes (enterprise, Kit), keyed by their schema URN (RFC 7643 §3.3). */
  [extension: `urn:${string}`]: { [attribute: string]: unknown } | undefined;
}

export interface MemberRef {
  value: string;
  /** Absent when only the id is known (members just added, not read back from Kit). */
  display?: string;
  type: 'User';
}

export interface ScimGroup {
  schemas: string[];
  id: string;
  displayName: string;
  members?: MemberRef[];
  meta: ScimMeta;
}

export type ScimResource = ScimUser | ScimGroup;

export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** RFC 7644 §3.4.2 ListResponse. Resources are rendered (attributes applied), hence ScimBody. */
export interface ScimListResponse {
  schemas: [typeof LIST_RESPONSE];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: ScimBody[];
}

/** One page of resources as a directory answers it, before rendering. */
export interface ResourcePage<T extends ScimResource> {
  resources: T[];
  totalResults: number;
  /**
   * Set when the page was asked for by cursor (RFC 9865): the cursor of the next page, absent on the last, and
   * totalResults where it is known without extra Kit calls (RFC 9865 §2 lets a cursor page omit it). Such a page
   * answers no startIndex (index-based paging's).
   */
  cursor?: { next?: string; totalResults?: number };
}
