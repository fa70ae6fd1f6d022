import {
  type SettingNames,
  type SettingPath,
  type SettingsContext,
  type TenantSettings,
  tenantSettingsSchema,
} from './settings';

// The environment's one tenant: its variables mapped onto the fields of the tenant settings schema (settings.ts),
// validated there, and each problem mapped back to the variable it came from.

type Env = Record<string, string | undefined>;

interface EnvSetting {
  variable: string;
  path: SettingPath;
  /** How the text becomes the field's value (lists); else the trimmed text. */
  read?: (text: string) => unknown;
}

/** A comma-separated list, entries trimmed, empty entries dropped. */
export function listOf(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `name=token` or bare `token` (named `<prefix>-<n>`), comma-separated. */
const tokens = (prefix: string) => (text: string) =>
  listOf(text).map((entry, i) => {
    const eq = entry.indexOf('=');
    return eq > 0
      ? { name: entry.slice(0, eq), token: entry.slice(eq + 1) }
      : { name: `${prefix}-${i + 1}`, token: entry };
  });

/**
 * `name=token` or `name=token@audience` (the audience defaults to the name; tokens are `openssl rand -hex 32`, so
 * never hold an "@").
 */
function receivers(text: string) {
  return listOf(text).map((entry) => {
    const eq = entry.indexOf('=');
    const rest = eq > 0 ? entry.slice(eq + 1) : entry;
    const at = rest.indexOf('@');
    return {
      name: eq > 0 ? entry.slice(0, eq) : '',
      token: at >= 0 ? rest.slice(0, at) : rest,
      ...(at >= 0 ? { audience: rest.slice(at + 1) } : {}),
    };
  });
}

/** `name=url`, comma-separated. */
function pushEndpoints(text: string) {
  return listOf(text).map((entry) => {
    const eq = entry.indexOf('=');
    return { receiver: entry.slice(0, Math.max(eq, 0)), url: entry.slice(eq + 1) };
  });
}

const ENV_SETTINGS: EnvSetting[] = [
  { variable: 'KIT_API_KEY', path: ['kit', 'apiKey'] },
  { variable: 'KIT_API_SECRET', path: ['kit', 'apiSecret'] },
  { variable: 'KIT_ACCESS_TOKEN', path: ['kit', 'oauth', 'accessToken'] },
  { variable: 'KIT_REFRESH_TOKEN', path: ['kit', 'oauth', 'refreshToken'] },
  { variable: 'KIT_CLIENT_ID', path: ['kit', 'oauth', 'clientId'] },
  { variable: 'KIT_CLIENT_SECRET', path: ['kit', 'oauth', 'clientSecret'] },
  { variable: 'KIT_TOKEN_STORE', path: ['kit', 'oauth', 'tokenStore'] },
  { variable: 'KIT_API_VERSION', path: ['kit', 'apiVersion'] },
  { variable: 'KIT_API_URL', path: ['kit', 'baseUrl'] },
  { variable: 'KIT_RATE_LIMIT_PER_MINUTE', path: ['kit', 'ratePerMinute'] },
  { variable: 'SCIM_BEARER_TOKENS', path: ['bearerTokens'], read: tokens('token') },
  { variable: 'SCIM_READONLY_BEARER_TOKENS', path: ['readOnlyBearerTokens'], read: tokens('readonly') },
  { variable: 'SCIM_JWT_JWKS_URL', path: ['jwt', 'jwksUrl'] },
  { variable: 'SCIM_JWT_ISSUER', path: ['jwt', 'issuer'] },
  { variable: 'SCIM_JWT_AUDIENCE', path: ['jwt', 'audience'] },
  { variable: 'GROUP_TAG_PREFIX', path: ['groupTagPrefix'] },
  { variable: 'SCIM_MAPPING_FILE', path: ['mappingFile'] },
  { variable: 'SCIM_UNMAPPED_ATTRIBUTES', path: ['unmappedAttributes'] },
  { variable: 'SCIM_EVENTS_RECEIVERS', path: ['events', 'receivers'], read: receivers },
  { variable: 'SCIM_EVENTS_PUSH', path: ['events', 'push'], read: pushEndpoints },
  { variable: 'SCIM_EVENTS_SIGNING_KEY', path: ['events', 'signingKey'] },
  { variable: 'SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS', path: ['events', 'previousPublicKeys'] },
  { variable: 'SCIM_EVENTS_KEY_FILE', path: ['events', 'keyFile'] },
  { variable: 'SCIM_EVENTS_OUTBOX_MAX', path: ['events', 'outboxMax'] },
  { variable: 'SCIM_EVENTS_LEASE_SECONDS', path: ['events', 'leaseSeconds'] },
  { variable: 'SCIM_EVENTS_MAX_WAIT_SECONDS', path: ['events', 'maxWaitSeconds'] },
  { variable: 'SCIM_EVENTS_DEAD_LETTER_SECONDS', path: ['events', 'deadLetterSeconds'] },
  { variable: 'SCIM_EVENTS_SPOOL_DIR', path: ['events', 'spoolDir'] },
  { variable: 'SCIM_EVENTS_SPOOL_MAX', path: ['events', 'spoolMax'] },
];

/**
 * A group of settings is given when one of these fields is; its other variables alone (a token store, the
 * events' outbox size) describe nothing to run. A problem of the group as a whole is its first variable's.
 */
const GROUPS: Array<{ path: SettingPath; givenBy?: string[]; variable: string; name: string }> = [
  {
    path: ['kit', 'oauth'],
    givenBy: ['accessToken', 'refreshToken', 'clientId', 'clientSecret'],
    variable: 'KIT_ACCESS_TOKEN',
    name: 'the OAuth variables (KIT_ACCESS_TOKEN, KIT_REFRESH_TOKEN, KIT_CLIENT_ID, KIT_CLIENT_SECRET)',
  },
  { path: ['jwt'], givenBy: ['jwksUrl'], variable: 'SCIM_JWT_JWKS_URL', name: 'SCIM_JWT_JWKS_URL' },
  // Any SCIM_EVENTS_* is checked; only receivers make events to send (loadConfig).
  { path: ['events'], variable: 'SCIM_EVENTS_RECEIVERS', name: 'SCIM_EVENTS_RECEIVERS' },
];

const same = (a: SettingPath, b: SettingPath) => a.length === b.length && a.every((p, i) => p === b[i]);
const startsWith = (path: SettingPath, prefix: SettingPath) => same(path.slice(0, prefix.length), prefix);

/** The variable a problem at `path` is about: the setting's own, else its group's, else the Kit credential's. */
export function variableOf(path: SettingPath): string {
  const setting = ENV_SETTINGS.find((s) => startsWith(path, s.path));
  if (setting) return setting.variable;
  const group = GROUPS.find((g) => startsWith(path, g.path));
  return group?.variable ?? 'KIT_API_KEY';
}

export const ENVIRONMENT_NAMES: SettingNames = {
  of: (path) => GROUPS.find((g) => same(g.path, path))?.name ?? variableOf(path),
  set: (path, value) => `${variableOf(path)}=${value}`,
};

function setIn(target: Record<string, unknown>, path: SettingPath, value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]] = value;
}

function getIn(source: Record<string, unknown>, path: SettingPath): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], source);
}

/** The tenant settings the environment gives, as written (not yet validated); unset and blank variables left out. */
function settingsOf(env: Env): Record<string, unknown> {
  const values: Record<string, unknown> = { kit: {} };
  for (const { variable, path, read } of ENV_SETTINGS) {
    const text = env[variable]?.trim();
    if (text) setIn(values, path, read ? read(text) : text);
  }
  for (const group of GROUPS) {
    const node = getIn(values, group.path) as Record<string, unknown> | undefined;
    if (node && group.givenBy && !group.givenBy.some((field) => node[field] !== undefined))
      delete (getIn(values, group.path.slice(0, -1)) as Record<string, unknown>)[group.path[group.path.length - 1]];
  }
  return values;
}

export type EnvironmentSettingsReading =
  { ok: true; settings: TenantSettings } | { ok: false; problems: Array<{ variable: string; message: string }> };

/** The environment's tenant settings, validated by the shared schema; problems name the variable. */
export function readEnvironmentSettings(env: Env, process: Omit<SettingsContext, 'names'>): EnvironmentSettingsReading {
  const parsed = tenantSettingsSchema({ ...process, names: ENVIRONMENT_NAMES }).safeParse(settingsOf(env));
  if (parsed.success) return { ok: true, settings: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => ({
      variable: variableOf(i.path.filter((p): p is string | number => typeof p !== 'symbol')),
      message: i.message,
    })),
  };
}
