import type { ValueType } from './catalog';

// What a mapping file says, once read and checked (mappingFile.ts): where each SCIM attribute lives in Kit,
// and the custom extension schemas it declares. Plain data: the SCIM ⇄ Kit translation (userMapping.ts) and
// the User schema (userSchema.ts) both read it.

/** Where a value lives in Kit: its email, its first name, or a custom field (by label; Kit derives the key). */
export type KitTarget = { kind: 'email_address' } | { kind: 'first_name' } | { kind: 'field'; label: string };

/** A SCIM attribute path as the mapping file names it, resolved against the schemas. */
export interface SourcePath {
  /** Canonical spelling: `name.formatted`, `phoneNumbers[type eq "work"].value`, `<URN>:costCentre`. */
  text: string;
  /** The schema URN the attribute belongs to (core User, enterprise, or a declared extension). */
  schema: string;
  attribute: string;
  /** `[type eq "…"]`: one value of a multi-valued attribute, chosen by its type. */
  typeValue?: string;
  sub?: string;
}

export interface MappedAttribute {
  source: SourcePath;
  target: KitTarget;
  /** The stored value's type; `complex` (whole multi-valued or complex attributes) is stored as compact JSON. */
  type: ValueType;
  /**
   * `immutable`: set when the user is created, never changed by a write after (RFC 7643 §7). Only Kit's
   * address may be held so (`mutability: immutable` on the `kit: email_address` entry).
   */
  mutability?: 'immutable';
}

export type Mutability = 'readWrite' | 'immutable' | 'readOnly' | 'writeOnly';

export interface ExtensionAttribute {
  name: string;
  type: Exclude<ValueType, 'complex' | 'binary'>;
  multiValued: boolean;
  mutability: Mutability;
  required: boolean;
  description: string;
}

/** A custom extension schema (`urn:ietf:params:scim:schemas:extension:<name>:2.0:User`) declared in the file. */
export interface ExtensionSchema {
  id: string;
  name: string;
  description: string;
  /** Listed in /ResourceTypes as `required`; scimmy then refuses a User without it. */
  required: boolean;
  attributes: ExtensionAttribute[];
}

export interface AttributeMapping {
  user: MappedAttribute[];
  extensions: ExtensionSchema[];
}

/** The custom field labels a mapping writes (what start-up ensures exist in Kit). */
export function fieldLabels(mapping: AttributeMapping): string[] {
  return mapping.user.flatMap((a) => (a.target.kind === 'field' ? [a.target.label] : []));
}
