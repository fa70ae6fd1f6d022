// Which SCIM attributes live in which Kit custom fields. Kit has only email_address and first_name natively;
// everything else the IdPs send is kept in reserved custom fields that the server creates at start-up
// (Kit silently drops values for fields that do not exist, so the server never writes one it has not ensured).

export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const KIT_USER = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';

export interface AttributeField {
  /** SCIM attribute path: `userName`, `name.familyName`, or `<extension URN>:<attribute>`. */
  path: string;
  /** The Kit custom field label; Kit derives the key from it. */
  label: string;
}

export const DEFAULT_ATTRIBUTE_FIELDS: readonly AttributeField[] = [
  // Only filled when userName is not exactly the subscriber's email (e.g. "jdoe", or different letter case).
  { path: 'userName', label: 'scim_user_name' },
  { path: 'name.familyName', label: 'scim_family_name' },
  { path: 'displayName', label: 'scim_display_name' },
  { path: 'externalId', label: 'scim_external_id' },
  { path: 'title', label: 'scim_title' },
  { path: `${ENTERPRISE_USER}:employeeNumber`, label: 'scim_employee_number' },
  { path: `${ENTERPRISE_USER}:department`, label: 'scim_department' },
  { path: `${ENTERPRISE_USER}:organization`, label: 'scim_organization' },
];

/** Fields the server keeps for its own bookkeeping, held in Kit so every replica and every restart sees them. */
export const LIFECYCLE_FIELDS = {
  /** Set by DELETE /Users/{id}: the tombstone that makes the user 404 everywhere (RFC 7644 §3.6). */
  deletedAt: 'scim_deleted_at',
  /** meta.lastModified: Kit's API does not return updated_at. */
  lastModified: 'scim_last_modified',
} as const;

/** Label → key, as Kit reported them after the bootstrap ensured every label exists. */
export class SubscriberFieldMap {
  readonly attributes: readonly AttributeField[];
  private readonly keys: ReadonlyMap<string, string>;

  constructor(
    keysByLabel: ReadonlyMap<string, string>,
    attributes: readonly AttributeField[] = DEFAULT_ATTRIBUTE_FIELDS,
  ) {
    this.attributes = attributes;
    this.keys = keysByLabel;
    for (const label of SubscriberFieldMap.labels(attributes)) {
      if (!keysByLabel.has(label)) throw new Error(`custom field "${label}" was not bootstrapped`);
    }
  }

  static labels(attributes: readonly AttributeField[] = DEFAULT_ATTRIBUTE_FIELDS): string[] {
    return [...attributes.map((a) => a.label), ...Object.values(LIFECYCLE_FIELDS)];
  }

  key(label: string): string {
    const key = this.keys.get(label);
    if (key === undefined) throw new Error(`custom field "${label}" is not mapped`);
    return key;
  }
}
