import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, MIN_BEARER_TOKEN_LENGTH } from '../../src/config/environment';
import { pathProblem } from '../../src/config/filePaths';
import { environmentFileProblems } from '../../src/config/writtenFiles';

// src/config/filePaths.ts and DATA_DIR: every file the server writes defaults under one directory, and a path
// setting that cannot be used is one line naming the setting, never an errno or the file's content.

const LONG = 'a'.repeat(MIN_BEARER_TOKEN_LENGTH);
const SCIM = { SCIM_BEARER_TOKENS: `okta=${LONG}` };
const OAUTH = { KIT_ACCESS_TOKEN: 'at-files-1', ...SCIM };
const EVENTS = {
  KIT_API_KEY: 'kit_files',
  ...SCIM,
  PUBLIC_BASE_URL: 'https://scim.example.test',
  SCIM_EVENTS_RECEIVERS: `iga=${'r'.repeat(40)}`,
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'file-paths-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('DATA_DIR', () => {
  it('defaults to the working directory: the written files keep their relative names', () => {
    const config = loadConfig({ ...OAUTH, AUDIT_LOG: 'audit.log' });
    expect(config.dataDir).toBe('.');
    expect(config.kit.credentials).toMatchObject({ tokenStorePath: '.kit-tokens.json' });
    expect(config.auditLog).toBe('audit.log');
    expect(loadConfig(EVENTS).events?.keyFile).toBe('.scim-events-key.json');
  });

  it('holds every default written file and every relative one; absolute paths, stdout and off are kept', () => {
    const config = loadConfig({ ...OAUTH, DATA_DIR: dir, AUDIT_LOG: 'audit.log' });
    expect(config.kit.credentials).toMatchObject({ tokenStorePath: path.join(dir, '.kit-tokens.json') });
    expect(config.auditLog).toBe(path.join(dir, 'audit.log'));
    expect(loadConfig({ ...EVENTS, DATA_DIR: dir }).events?.keyFile).toBe(path.join(dir, '.scim-events-key.json'));
    const relative = loadConfig({ ...OAUTH, DATA_DIR: dir, KIT_TOKEN_STORE: 'kit/tokens.json' });
    expect(relative.kit.credentials).toMatchObject({ tokenStorePath: path.join(dir, 'kit', 'tokens.json') });
    const absolute = loadConfig({ ...OAUTH, DATA_DIR: dir, KIT_TOKEN_STORE: '/srv/tokens.json', AUDIT_LOG: 'off' });
    expect(absolute.kit.credentials).toMatchObject({ tokenStorePath: '/srv/tokens.json' });
    expect(absolute.auditLog).toBe('off');
    expect(
      loadConfig({ ...OAUTH, DATA_DIR: dir, KIT_TOKEN_STORE: 'redis', REDIS_URL: 'redis://r:6379' }).kit,
    ).toMatchObject({ credentials: { tokenStorePath: 'redis' } });
    expect(loadConfig({ ...OAUTH, DATA_DIR: dir }).auditLog).toBe('stdout');
  });

  it('must be an existing directory, named by the variable', () => {
    const file = path.join(dir, 'file');
    writeFileSync(file, 'secret-content');
    expect(problemsOf({ ...OAUTH, DATA_DIR: path.join(dir, 'missing') })).toEqual([
      `DATA_DIR: cannot use ${path.join(dir, 'missing')} as the data directory (it does not exist); create it, or mount a writable volume there`,
    ]);
    const notDir = problemsOf({ ...OAUTH, DATA_DIR: file });
    expect(notDir).toEqual([
      `DATA_DIR: cannot use ${file} as the data directory (it is not a directory); create it, or mount a writable volume there`,
    ]);
    expect(notDir.join()).not.toContain('secret-content');
  });
});

describe('written files: one line naming the variable', () => {
  it('AUDIT_LOG, KIT_TOKEN_STORE and SCIM_EVENTS_KEY_FILE whose directory is missing or that are directories', () => {
    const missing = path.join(dir, 'nonexistent', 'a.log');
    expect(environmentFileProblems(loadConfig({ ...OAUTH, AUDIT_LOG: missing }))).toEqual([
      `AUDIT_LOG: cannot open ${missing} for appending (its directory does not exist); name a writable file, or set AUDIT_LOG=stdout`,
    ]);
    expect(environmentFileProblems(loadConfig({ ...OAUTH, KIT_TOKEN_STORE: dir }))).toEqual([
      `KIT_TOKEN_STORE: cannot use ${dir} for the rotated Kit OAuth tokens (it is a directory); name a writable file (it defaults under DATA_DIR), or redis`,
    ]);
    expect(environmentFileProblems(loadConfig({ ...EVENTS, SCIM_EVENTS_KEY_FILE: missing }))).toEqual([
      `SCIM_EVENTS_KEY_FILE: cannot use ${missing} for the security events signing key (its directory does not exist); name a writable file`,
    ]);
  });

  it('leaves out what is never written: a token store in Redis, a configured signing key, stdout', () => {
    const env = { ...OAUTH, KIT_TOKEN_STORE: 'redis', REDIS_URL: 'redis://r:6379' };
    expect(environmentFileProblems(loadConfig(env))).toEqual([]);
    const key = JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' });
    const signed = { ...EVENTS, SCIM_EVENTS_SIGNING_KEY: key, SCIM_EVENTS_KEY_FILE: path.join(dir, 'no', 'k.json') };
    expect(environmentFileProblems(loadConfig(signed))).toEqual([]);
  });

  it('can leave the token store to a check of its own', () => {
    const config = loadConfig({ ...OAUTH, KIT_TOKEN_STORE: dir, AUDIT_LOG: dir });
    expect(environmentFileProblems(config, { tokenStore: false })).toEqual([
      `AUDIT_LOG: cannot open ${dir} for appending (it is a directory); name a writable file, or set AUDIT_LOG=stdout`,
    ]);
  });
});

describe('pathProblem', () => {
  it('says why a file cannot be read, and nothing for one that can', () => {
    const file = path.join(dir, 'mapping.yaml');
    writeFileSync(file, 'user: []\n');
    expect(pathProblem(file, 'read')).toBeUndefined();
    expect(pathProblem(path.join(dir, 'none.yaml'), 'read')).toBe('it does not exist');
    expect(pathProblem(dir, 'read')).toBe('it is a directory');
  });

  it('accepts a file to write that does not exist yet in a writable directory, or one that exists', () => {
    mkdirSync(path.join(dir, 'data'));
    expect(pathProblem(path.join(dir, 'data', 'new.json'), 'write')).toBeUndefined();
    writeFileSync(path.join(dir, 'data', 'old.json'), '{}');
    expect(pathProblem(path.join(dir, 'data', 'old.json'), 'write')).toBeUndefined();
    const under = path.join(dir, 'data', 'old.json', 'x.json');
    expect(pathProblem(under, 'write')).toBe('its directory is not a directory');
  });
});
