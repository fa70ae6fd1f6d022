// The attributes RFC 7643 defines for a User (§4.1) and the enterprise extension (§4.3), as the mapping file
// may name them. Kept here, apart from scimmy, so a mapping file is checked by pure code (the `validate`
// command, unit tests) before anything is declared to scimmy.

export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const KIT_USER = 'urn:ietf:params:scim:schemas:extension:kit:2.0:User';

export type ValueType = 'string' | 'boolean' | 'integer' | 'decimal' | 'dateTime' | 'reference' | 'binary' | 'complex';

export interface CatalogAttribute {
  name: string;
  type: ValueType;
  multiValued?: boolean;
  subAttributes?: CatalogAttribute[];
}

const str = (name: string): CatalogAttribute => ({ name, type: 'string' });
const multi = (name: string, value: ValueType = 'string', more: CatalogAttribute[] = []): CatalogAttribute => ({
  name,
  type: 'complex',
  multiValued: true,
  subAttributes: [
    { name: 'value', type: value },
    str('display'),
    str('type'),
    { name: 'primary', type: 'boolean' },
    ...more,
  ],
});

export const CORE_USER_ATTRIBUTES: readonly CatalogAttribute[] = [
  str('externalId'),
  str('userName'),
  {
    name: 'name',
    type: 'complex',
    subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map(
      str,
    ),
  },
  str('displayName'),
  str('nickName'),
  { name: 'profileUrl', type: 'reference' },
  str('title'),
  str('userType'),
  str('preferredLanguage'),
  str('locale'),
  str('timezone'),
  multi('emails'),
  multi('phoneNumbers'),
  multi('ims'),
  multi('photos', 'reference'),
  {
    name: 'addresses',
    type: 'complex',
    multiValued: true,
    subAttributes: [
      ...['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country', 'type'].map(str),
      { name: 'primary', type: 'boolean' },
    ],
  },
  multi('entitlements'),
  multi('roles'),
  multi('x509Certificates', 'binary'),
];

export const ENTERPRISE_USER_ATTRIBUTES: readonly CatalogAttribute[] = [
  ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map(str),
  {
    name: 'manager',
    type: 'complex',
    subAttributes: [str('value'), { name: '$ref', type: 'reference' }, str('displayName')],
  },
];

/**
 * Attributes whose home in Kit is fixed by the server, not by the mapping: `id` is the subscriber id, `active`
 * its state, `groups` its tags, `meta` Kit's dates and the server's stamp; a password is never stored.
 */
export const FIXED_USER_ATTRIBUTES = new Set(['id', 'active', 'groups', 'meta', 'schemas', 'password']);
