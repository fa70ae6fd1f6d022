import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './environment';

// File-path settings checked before anything runs, so a path that cannot be used is one line naming its setting
// instead of an ENOENT (with a stack) from deep inside the first write. Only the path and the reason are said,
// never the file's content (a token store or a key holds secrets).

/** How a setting uses its path. */
export type PathUse = 'read' | 'write' | 'directory';

function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

function allows(p: string, mode: number): boolean {
  try {
    fs.accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `p` cannot be used as `use` says (a sentence whose subject is the path), or undefined when it can. A file
 * to write need not exist yet: its directory must, and be writable.
 */
export function pathProblem(p: string, use: PathUse): string | undefined {
  const stat = statOf(p);
  if (use === 'directory') {
    if (!stat) return `${p} does not exist (create it, or mount a volume there)`;
    if (!stat.isDirectory()) return `${p} is not a directory`;
    if (!allows(p, fs.constants.W_OK | fs.constants.X_OK)) return `${p} is not writable by this process`;
    return undefined;
  }
  if (stat?.isDirectory()) return `${p} is a directory, not a file`;
  if (use === 'read') {
    if (!stat) return `${p} does not exist`;
    if (!allows(p, fs.constants.R_OK)) return `${p} cannot be read by this process`;
    return undefined;
  }
  if (stat) return allows(p, fs.constants.W_OK) ? undefined : `${p} is not writable by this process`;
  const dir = path.dirname(path.resolve(p));
  const parent = statOf(dir);
  if (!parent) return `the directory of ${p} (${dir}) does not exist`;
  if (!parent.isDirectory()) return `the directory of ${p} (${dir}) is not a directory`;
  if (!allows(dir, fs.constants.W_OK | fs.constants.X_OK))
    return `the directory of ${p} (${dir}) is not writable by this process`;
  return undefined;
}

/**
 * A file the server writes, placed under the data directory when given relative (an absolute path is kept).
 * `.` (the data directory's default) keeps a relative path as it is: relative to the working directory.
 */
export function underDataDir(dataDir: string, file: string): string {
  return path.isAbsolute(file) ? file : path.join(dataDir, file);
}

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
  if (storeProblem) problems.push({ file: 'tokenStore', problem: storeProblem });
  // A key given in the configuration is never written; without one a generated key is kept in the file.
  const keyFile = config.events && !config.events.signingKey ? config.events.keyFile : undefined;
  const keyProblem = keyFile ? pathProblem(keyFile, 'write') : undefined;
  if (keyProblem) problems.push({ file: 'keyFile', problem: keyProblem });
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
    ...(auditProblem ? [`AUDIT_LOG: ${auditProblem}`] : []),
    ...tenantFileProblems(config)
      .filter((p) => opts.tokenStore !== false || p.file !== 'tokenStore')
      .map((p) => `${ENVIRONMENT_VARIABLES[p.file]}: ${p.problem}`),
  ];
}
