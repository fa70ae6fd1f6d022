import { type BearerToken, type Config, ConfigError, secretsOf } from '../environment';
import { unreadableFile } from '../filePaths';
import { interpolateEnv, type Path } from './envInterpolation';
import { FileProblems } from './fileProblems';
import { DEFAULT_TENANT_ID, type TenantsConfig } from './model';
import { tenantConfigOf } from './tenantConfig';
import { checkTenantRules } from './tenantRules';
import { type TenantsFile, tenantsFileSchema } from './tenantsFileSchema';
import { readYamlFile } from './yamlFile';

// TENANTS_FILE names a YAML file of tenants (tenants.example.yaml); without it the environment
// describes one tenant, `default`. The file is read at start-up and again on SIGHUP: a file
// with any problem throws ConfigError, and the caller keeps the configuration it has.

/** Real files are a few kilobytes; a larger one is refused before it is parsed. */
export const MAX_TENANTS_FILE_BYTES = 1024 * 1024;

/**
 * Settings a tenant has in the file. Set in the environment as well they would be ambiguous (which tenant do
 * they belong to?), so they are refused, unless the file itself names the variable as a `${VAR}`. What is not
 * listed stays process-wide (PORT, REDIS_URL, PUBLIC_BASE_URL, KIT_MAX_WAIT_MS, MIRROR, ...); KIT_API_URL,
 * KIT_RATE_LIMIT_PER_MINUTE, SCIM_JWT_ALGORITHMS and SCIM_JWT_CLOCK_SKEW_SECONDS are the defaults of entries
 * that leave them out.
 */
export const TENANT_VARIABLES = [
  'KIT_API_KEY',
  'KIT_ACCESS_TOKEN',
  'KIT_REFRESH_TOKEN',
  'KIT_CLIENT_ID',
  'KIT_CLIENT_SECRET',
  'KIT_TOKEN_STORE',
  'KIT_API_VERSION',
  'KIT_API_SECRET',
  'KIT_WEBHOOK_SECRET',
  'SCIM_BEARER_TOKENS',
  'SCIM_READONLY_BEARER_TOKENS',
  'SCIM_JWT_JWKS_URL',
  'SCIM_JWT_ISSUER',
  'SCIM_JWT_AUDIENCE',
  'GROUP_TAG_PREFIX',
  'SCIM_MAPPING_FILE',
  'SCIM_UNMAPPED_ATTRIBUTES',
] as const;

/** Security events are per tenant (each its own issuer, key and receivers): every SCIM_EVENTS_* is refused. */
const TENANT_VARIABLE_PREFIX = 'SCIM_EVENTS_';

/** The tenants the configuration describes: the file TENANTS_FILE names, else the environment's one tenant. */
export function loadTenants(base: Config, env: Record<string, string | undefined>): TenantsConfig {
  const file = env.TENANTS_FILE?.trim();
  if (!file)
    return {
      source: { kind: 'environment' },
      tenants: [{ id: DEFAULT_TENANT_ID, config: base }],
      operatorTokens: base.scim.bearerTokens,
    };
  return readTenantsFile(file, base, env);
}

/**
 * Reads a tenants file; `base` is loadConfig(env), the process-wide settings. Throws ConfigError naming every
 * problem (file, line, key path; never a value). Used at start-up and by the SIGHUP reload.
 */
export function readTenantsFile(file: string, base: Config, env: Record<string, string | undefined>): TenantsConfig {
  const unusable = unreadableFile(file);
  if (unusable) throw new ConfigError([`TENANTS_FILE: ${unusable}`]);
  const { doc, lines, values } = readYamlFile(file, MAX_TENANTS_FILE_BYTES);
  const problems = new FileProblems(file, doc, lines);
  const unresolved: Array<{ path: Path; message: string }> = [];
  const referenced = new Set<string>();
  const report = (path: Path, message: string) => unresolved.push({ path, message });
  const raw = interpolateEnv(values, { env, report, referenced }) as { tenants?: unknown };
  if (Array.isArray(raw.tenants))
    problems.knowIds(raw.tenants.map((t) => (t && typeof t === 'object' ? (t as { id?: unknown }).id : undefined)));
  for (const u of unresolved) problems.at(u.path, u.message);
  problems.list.push(...environmentConflicts(env, referenced));

  const parsed = tenantsFileSchema({ redis: !!base.redisTopology, publicBaseUrl: !!base.publicUrls.baseUrl }).safeParse(
    raw,
  );
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      // A value still holding an unset ${VAR} was reported as such; its length or format says nothing.
      if (unresolved.some((u) => u.path.every((p, i) => path[i] === p))) continue;
      if (issue.code === 'unrecognized_keys')
        for (const key of issue.keys) problems.at([...path, key], 'is not a setting of a tenants file (misspelt?)');
      else problems.at(path, issue.message.replace(/^Invalid input: /, ''));
    }
    throw new ConfigError(problems.list);
  }
  if (problems.any) throw new ConfigError(problems.list);
  return tenantsOf(parsed.data, file, base, problems);
}

function tenantsOf(data: TenantsFile, file: string, base: Config, problems: FileProblems): TenantsConfig {
  const report = (path: Path, message: string) => problems.at(path, message);
  checkTenantRules(data, base.kit, report);
  const tenants = data.tenants.map((t, i) => tenantConfigOf(t, i, { base, file, report }));
  if (problems.any) throw new ConfigError(problems.list);
  // Operators read /metrics across tenants; nothing they hold may write.
  const operatorTokens: BearerToken[] = (data.operators?.bearerTokens ?? []).map((b) => ({
    name: b.name,
    token: b.token,
    readOnly: true,
  }));
  return { source: { kind: 'file', path: file }, tenants, operatorTokens };
}

/** Tenant settings in the environment beside a tenants file, naming the variable (never its value). */
function environmentConflicts(env: Record<string, string | undefined>, referenced: Set<string>): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '' && !referenced.has(name);
  const names = [
    ...TENANT_VARIABLES.filter(set),
    ...Object.keys(env)
      .filter((n) => n.startsWith(TENANT_VARIABLE_PREFIX))
      .filter(set)
      .sort(),
  ];
  return names.map(
    (name) =>
      `${name}: is set in the environment beside TENANTS_FILE, where it belongs to a tenant in the file: ` +
      `unset it (or have the file name it as \${${name}})`,
  );
}

/** Every secret of every tenant and the operators' tokens, for the logger and the audit trail to mask. */
export function secretsOfTenants(tenants: TenantsConfig): string[] {
  return [
    ...new Set([...tenants.tenants.flatMap((t) => secretsOf(t.config)), ...tenants.operatorTokens.map((t) => t.token)]),
  ];
}
