import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runServerProcessToExit } from '../support/serverProcess';

// A file-path setting whose path cannot be used stops the server before it starts: exit code 2 and one line
// naming the setting, never an errno, a stack or the file's content.

const TOKEN = 'f'.repeat(40);
const KIT_KEY = 'kit_file_paths_secret_key';
const BASE = {
  PORT: '0',
  KIT_API_KEY: KIT_KEY,
  // Never reached: the configuration is refused first.
  KIT_API_URL: 'http://127.0.0.1:9',
  SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'file-paths-e2e-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(env: Record<string, string>): Promise<string> {
  const { code, stdout, stderr } = await runServerProcessToExit(env);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/ENOENT|EISDIR|EACCES|\n\s+at /);
  for (const secret of [TOKEN, KIT_KEY]) expect(stderr).not.toContain(secret);
  return lines[0];
}

describe('file-path settings name themselves when their path cannot be used', () => {
  it('AUDIT_LOG in a directory that does not exist', async () => {
    const missing = path.join(dir, 'nonexistent', 'a.log');
    expect(await refusal({ ...BASE, AUDIT_LOG: missing })).toBe(
      `Invalid configuration: AUDIT_LOG: cannot open ${missing} for appending (its directory does not exist); name a writable file, or set AUDIT_LOG=stdout`,
    );
  });

  it('KIT_TOKEN_STORE that is a directory', async () => {
    const env = { ...BASE, KIT_API_KEY: '', KIT_ACCESS_TOKEN: KIT_KEY, KIT_TOKEN_STORE: dir };
    expect(await refusal(env)).toBe(
      `Invalid configuration: KIT_TOKEN_STORE: cannot use ${dir} for the rotated Kit OAuth tokens (it is a directory); name a writable file (it defaults under DATA_DIR), or redis`,
    );
  });

  it('SCIM_MAPPING_FILE that does not exist, or is a directory', async () => {
    const missing = path.join(dir, 'mapping.yaml');
    expect(await refusal({ ...BASE, SCIM_MAPPING_FILE: missing })).toBe(
      `Invalid configuration: SCIM_MAPPING_FILE: cannot read ${missing} (it does not exist)`,
    );
    expect(await refusal({ ...BASE, SCIM_MAPPING_FILE: dir })).toBe(
      `Invalid configuration: SCIM_MAPPING_FILE: cannot read ${dir} (it is a directory)`,
    );
  });

  it('TENANTS_FILE that does not exist; a tenant’s token store named with the tenants file’s line', async () => {
    const missing = path.join(dir, 'tenants.yaml');
    expect(await refusal({ PORT: '0', TENANTS_FILE: missing })).toBe(
      `Invalid configuration: TENANTS_FILE: cannot read ${missing} (it does not exist)`,
    );
    const file = path.join(dir, 'oauth-tenants.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tenants:',
        '  - id: brand-a',
        '    kit:',
        '      oauth:',
        '        accessToken: ${BRAND_A_ACCESS}',
        `    bearerTokens: [{ name: okta, token: "${TOKEN}" }]`,
        '',
      ].join('\n'),
    );
    const line = await refusal({ PORT: '0', TENANTS_FILE: file, BRAND_A_ACCESS: KIT_KEY, DATA_DIR: file });
    expect(line).toBe(
      `Invalid configuration: DATA_DIR: cannot use ${file} as the data directory (it is not a directory); create it, or mount a writable volume there`,
    );
    const store = path.join(dir, 'gone', 'tokens.json');
    const withStore = file.replace(/\.yaml$/, '-store.yaml');
    writeFileSync(
      withStore,
      `version: 1\ntenants:\n  - id: brand-a\n    kit:\n      oauth:\n        accessToken: \${BRAND_A_ACCESS}\n        tokenStore: ${store}\n    bearerTokens: [{ name: okta, token: "${TOKEN}" }]\n`,
    );
    expect(await refusal({ PORT: '0', TENANTS_FILE: withStore, BRAND_A_ACCESS: KIT_KEY })).toBe(
      `Invalid configuration: ${withStore}: line 7, column 21: tenants.0.kit.oauth.tokenStore (tenant "brand-a"): ` +
        `cannot use ${store} for the rotated Kit OAuth tokens (its directory does not exist); name a writable file (it defaults under DATA_DIR), or redis`,
    );
  });

  it('DATA_DIR that does not exist', async () => {
    const missing = path.join(dir, 'data');
    expect(await refusal({ ...BASE, DATA_DIR: missing })).toBe(
      `Invalid configuration: DATA_DIR: cannot use ${missing} as the data directory (it does not exist); create it, or mount a writable volume there`,
    );
  });
});
