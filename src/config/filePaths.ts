import fs from 'node:fs';
import path from 'node:path';

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
 * Why `p` cannot be used as `use` says ("its directory does not exist"), or undefined when it can. A file to
 * write need not exist yet: its directory must, and be writable.
 */
export function pathProblem(p: string, use: PathUse): string | undefined {
  const stat = statOf(p);
  if (use === 'directory') {
    if (!stat) return 'it does not exist';
    if (!stat.isDirectory()) return 'it is not a directory';
    if (!allows(p, fs.constants.W_OK | fs.constants.X_OK)) return 'it is not writable by this process';
    return undefined;
  }
  if (stat?.isDirectory()) return 'it is a directory';
  if (use === 'read') {
    if (!stat) return 'it does not exist';
    if (!allows(p, fs.constants.R_OK)) return 'it is not readable by this process';
    return undefined;
  }
  if (stat) return allows(p, fs.constants.W_OK) ? undefined : 'it is not writable by this process';
  const dir = path.dirname(path.resolve(p));
  const parent = statOf(dir);
  if (!parent) return 'its directory does not exist';
  if (!parent.isDirectory()) return 'its directory is not a directory';
  if (!allows(dir, fs.constants.W_OK | fs.constants.X_OK)) return 'its directory is not writable by this process';
  return undefined;
}

/** A file read at start-up (a mapping, the tenants file) that cannot be: what to say after its setting's name. */
export function unreadableFile(p: string): string | undefined {
  const why = pathProblem(p, 'read');
  return why && `cannot read ${p} (${why})`;
}

/**
 * A file the server writes, placed under the data directory when given relative (an absolute path is kept).
 * `.` (the data directory's default) keeps a relative path as it is: relative to the working directory.
 */
export function underDataDir(dataDir: string, file: string): string {
  return path.isAbsolute(file) ? file : path.join(dataDir, file);
}
