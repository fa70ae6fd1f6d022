import type { Config } from './environment';
import { pathProblem } from './filePaths';

// The files a configuration makes the server write, checked at start-up (main.ts, doctor) and for each entry of a
// tenants file where it is read, so a path that cannot be written is named before anything runs.

/** The files a tenant's configuration writes: rotated OAuth tokens and a generated event-signing key. */
export type TenantFile = 'tokenStore' | 'keyFile';

/** Where each of the tenant's written files sits in the tenant settings (a tenants file's key path). */
export const TENANT_FILE_SETTINGS: Record<TenantFile, string[]> = {
  tokenStore: ['kit', 'oauth', 'tokenStore'],
  keyFile: ['events', 'keyFile'],
};

/** The written files of one tenant's configuration that cannot be used, and why. */
export function tenantFileProblems(config: Config): Array<{ file: TenantFile; problem: string }> {
  const problems: Array<{ file: TenantFile; problem: string }> = [];
  const store = config.kit.credentials?.kind === 'oauth' ? config.kit.credentials.tokenStorePath : undefined;
  const storeProblem = store && store !== 'redis' ? pathProblem(store, 'write') : undefined;
  if (storeProblem)
    problems.push({
      file: 'tokenStore',
      problem: `cannot use ${store} for the rotated Kit OAuth tokens (${storeProblem}); name a writable file (it defaults under DATA_DIR), or redis`,
    });
  // A key given in the configuration is never written; without one a generated key is kept in the file.
  const keyFile = config.events && !config.events.signingKey ? config.events.keyFile : undefined;
  const keyProblem = keyFile ? pathProblem(keyFile, 'write') : undefined;
  if (keyProblem)
    problems.push({
      file: 'keyFile',
      problem: `cannot use ${keyFile} for the security events signing key (${keyProblem}); name a writable file`,
    });
  return problems;
}

const ENVIRONMENT_VARIABLES: Record<TenantFile, string> = {
  tokenStore: 'KIT_TOKEN_STORE',
  keyFile: 'SCIM_EVENTS_KEY_FILE',
};

/**
 * The process's written files (AUDIT_LOG) and, for the environment's one tenant, its own: each problem names its
 * variable. `tokenStore: false` leaves the token store to a check of its own (doctor's).
 */
export function environmentFileProblems(config: Config, opts: { tokenStore?: boolean } = {}): string[] {
  const audit = config.auditLog === 'stdout' || config.auditLog === 'off' ? undefined : config.auditLog;
  const auditProblem = audit ? pathProblem(audit, 'write') : undefined;
  return [
    ...(auditProblem
      ? [
          `AUDIT_LOG: cannot open ${audit} for appending (${auditProblem}); name a writable file, or set AUDIT_LOG=stdout`,
        ]
      : []),
    ...tenantFileProblems(config)
      .filter((p) => opts.tokenStore !== false || p.file !== 'tokenStore')
      .map((p) => `${ENVIRONMENT_VARIABLES[p.file]}: ${p.problem}`),
  ];
}
