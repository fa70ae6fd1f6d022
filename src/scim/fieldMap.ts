import { DEFAULT_MAPPING } from '../config/mapping/defaultMapping';
import { type AttributeMapping, fieldLabels, type MappedAttribute } from '../config/mapping/model';

// Which SCIM attributes live in which Kit custom fields. Kit has only email_address and first_name natively;
// everything else the IdPs send is kept in custom fields named by the mapping (SCIM_MAPPING_FILE, or the built-in
// default, mapping/default.yaml), which the server creates at start-up (Kit silently drops values for fields that
// do not exist, so the server never writes one it has not ensured).

export { ENTERPRISE_USER, KIT_USER } from '../config/mapping/catalog';

/** A mapped attribute whose home is a custom field. */
export interface AttributeField extends MappedAttribute {
  /** SCIM attribute path as the mapping names it: `userName`, `name.familyName`, `<URN>:<attribute>`. */
  path: string;
  /** The Kit custom field label; Kit derives the key from it. */
  label: string;
}

/** Fields the server keeps for its own bookkeeping, held in Kit so every replica and every restart sees them. */
export const LIFECYCLE_FIELDS = {
  /** Set by DELETE /Users/{id}: the tombstone that makes the user 404 everywhere (RFC 7644 §3.6). */
  deletedAt: 'scim_deleted_at',
  /** meta.lastModified: Kit's API does not return updated_at. */
  lastModified: 'scim_last_modified',
} as const;

/** Label → key, as Kit reported them after the bootstrap ensured every label exists. */
export class SubscriberFieldMap {
  /** The attributes kept in custom fields. */
  readonly attributes: readonly AttributeField[];
  /** The attribute kept in Kit's first_name, if any. */
  readonly firstName?: MappedAttribute;
  private readonly keys: ReadonlyMap<string, string>;

  constructor(
    keysByLabel: ReadonlyMap<string, string>,
    readonly mapping: AttributeMapping = DEFAULT_MAPPING,
  ) {
    this.attributes = mapping.user.flatMap((a) =>
      a.target.kind === 'field' ? [{ ...a, path: a.source.text, label: a.target.label }] : [],
    );
    this.firstName = mapping.user.find((a) => a.target.kind === 'first_name');
    this.keys = keysByLabel;
    for (const label of SubscriberFieldMap.labels(mapping)) {
      if (!keysByLabel.has(label)) throw new Error(`custom field "${label}" was not bootstrapped`);
    }
  }

  /** Every custom field label the server needs: the mapped ones and its own bookkeeping fields. */
  static labels(mapping: AttributeMapping = DEFAULT_MAPPING): string[] {
    return [...fieldLabels(mapping), ...Object.values(LIFECYCLE_FIELDS)];
  }

  /**
   * The SCIM attributes behind a set of Kit changes (names only), in the mapping's order: what a security
   * event's notice names. Kit's email stands for `emails`; the bookkeeping fields name nothing.
   */
  attributesOf(changes: {
    email_address?: string;
    first_name?: string | null;
    fields?: Record<string, unknown>;
  }): string[] {
    const names: string[] = [];
    if (changes.email_address !== undefined) names.push('emails');
    if (changes.first_name !== undefined && this.firstName) names.push(this.firstName.source.text);
    const changedKeys = new Set(Object.keys(changes.fields ?? {}));
    for (const a of this.attributes) {
      if (changedKeys.has(this.key(a.label)) && !names.includes(a.path)) names.push(a.path);
    }
    return names;
  }

  key(label: string): string {
    const key = this.keys.get(label);
    if (key === undefined) throw new Error(`custom field "${label}" is not mapped`);
    return key;
  }
}
