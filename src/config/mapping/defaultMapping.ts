import type { KitTarget, AttributeMapping, MappedAttribute } from './model';
import { resolveSourcePath } from './sourcePath';
import { CORE_USER, CORE_USER_ATTRIBUTES, ENTERPRISE_USER, ENTERPRISE_USER_ATTRIBUTES } from './catalog';

// The mapping used when SCIM_MAPPING_FILE is not set. mapping/default.yaml is the same mapping as a file (a test
// holds the two equal), so an operator can start from it; here it needs no file at start-up.

const DEFAULTS: Array<[source: string, target: KitTarget]> = [
  ['emails', { kind: 'email_address' }],
  // Only filled when userName is not exactly the subscriber's email (e.g. "jdoe", or different letter case).
  ['userName', { kind: 'field', label: 'scim_user_name' }],
  ['name.givenName', { kind: 'first_name' }],
  ['name.familyName', { kind: 'field', label: 'scim_family_name' }],
  ['displayName', { kind: 'field', label: 'scim_display_name' }],
  ['externalId', { kind: 'field', label: 'scim_external_id' }],
  ['title', { kind: 'field', label: 'scim_title' }],
  [`${ENTERPRISE_USER}:employeeNumber`, { kind: 'field', label: 'scim_employee_number' }],
  [`${ENTERPRISE_USER}:department`, { kind: 'field', label: 'scim_department' }],
  [`${ENTERPRISE_USER}:organization`, { kind: 'field', label: 'scim_organization' }],
];

const builtIn = (urn: string) =>
  urn === CORE_USER ? CORE_USER_ATTRIBUTES : urn === ENTERPRISE_USER ? ENTERPRISE_USER_ATTRIBUTES : undefined;

export const DEFAULT_MAPPING: AttributeMapping = {
  user: DEFAULTS.map(([source, target]): MappedAttribute => {
    const resolved = resolveSourcePath(source, builtIn);
    if ('error' in resolved) throw new Error(`default mapping: ${source} ${resolved.error}`);
    return { source: resolved.path, target, type: resolved.type };
  }),
  extensions: [],
};
