import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, MIN_BEARER_TOKEN_LENGTH } from '../../../src/config/environment';
import { DEFAULT_MAPPING } from '../../../src/config/mapping/defaultMapping';
import { loadMapping } from '../../../src/config/mapping/mappingSource';
import { DEFAULT_TENANT_ID } from '../../../src/config/tenants/model';
import { loadTenants, readTenantsFile, secretsOfTenants } from '../../../src/config/tenants/tenantsFile';

// src/config/tenants/tenantsFile.ts: the tenants file read into one full Config per tenant, or refused with
// problems naming the file, the line and the key, never a secret.

const FIXTURES = path.join(__dirname, 'fixtures');
const REPO = path.join(__dirname, '..', '..', '..');

/** Secrets recognisable in any output: a problem that quotes one fails the `not.toContain` checks. */
const secret = (label: string) => `SECRET-${label}-`.padEnd(MIN_BEARER_TOKEN_LENGTH + 8, 'x');

const SECRETS = {
  OPS_TOKEN: secret('ops'),
  BRAND_A_KIT_KEY: secret('kit-a'),
  BRAND_A_OKTA_TOKEN: secret('okta-a'),
  BRAND_A_IGA_TOKEN: secret('iga-a'),
  BRAND_B_REFRESH: secret('refresh-b'),
  BRAND_B_CLIENT_SECRET: secret('client-b'),
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tenants-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(yaml: string, name = 'tenants.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

function load(file: string, env: Record<string, string | undefined> = {}) {
  const full = { ...SECRETS, ...env, TENANTS_FILE: file };
  return loadTenants(loadConfig(full), full);
}

function problemsOf(yaml: string, env: Record<string, string | undefined> = {}): string[] {
  const file = write(yaml);
  try {
    load(file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    // Each names the file and the line, or (beside the file) the environment variable.
    for (const p of problems) expect(p.startsWith(`${file}: line `) || /^[A-Z_]+: /.test(p)).toBe(true);
    // Whatever the problem, no secret of the environment or the file is quoted.
    for (const s of [...Object.values(SECRETS), ...Object.values(env)].filter((v) => v && v.length >= 32))
      expect(problems.join('\n')).not.toContain(s);
    return problems;
  }
  throw new Error('expected the tenants file to be refused');
}

/** A valid tenant entry, for files that break one rule elsewhere. */
const tenant = (id: string, token = `${id}-okta-token-`.padEnd(40, 'k'), extra = '') => `
  - id: ${id}
    kit:
      apiKey: key-of-${id}
    bearerTokens:
      - name: okta
        token: ${token}${extra}`;

describe('without TENANTS_FILE', () => {
  it('is the one default tenant the environment describes, its tokens the operators’ too', () => {
    const env = {
      KIT_API_KEY: 'kit_0123456789abcdef',
      SCIM_BEARER_TOKENS: `okta=${'a'.repeat(32)}`,
      SCIM_READONLY_BEARER_TOKENS: `iga=${'b'.repeat(32)}`,
    };
    const base = loadConfig(env);
    const tenants = loadTenants(base, env);
    expect(tenants.source).toEqual({ kind: 'environment' });
    expect(tenants.tenants).toHaveLength(1);
    expect(tenants.tenants[0].id).toBe(DEFAULT_TENANT_ID);
    expect(tenants.tenants[0].config).toBe(base);
    expect(tenants.tenants[0].sandbox).toBeUndefined();
    expect(tenants.operatorTokens).toEqual([
      { name: 'okta', token: 'a'.repeat(32), readOnly: false },
      { name: 'iga', token: 'b'.repeat(32), readOnly: true },
    ]);
  });

  it('treats an empty TENANTS_FILE as unset', () => {
    const base = loadConfig({ TENANTS_FILE: ' ' });
    expect(loadTenants(base, { TENANTS_FILE: ' ' }).source).toEqual({ kind: 'environment' });
  });
});

describe('a valid file', () => {
  const file = path.join(FIXTURES, 'two-tenants.yaml');

  it('gives each tenant its Kit account, budget, tokens, JWT, prefix and mapping', () => {
    const tenants = load(file);
    expect(tenants.source).toEqual({ kind: 'file', path: file });
    expect(tenants.tenants.map((t) => t.id)).toEqual(['brand-a', 'brand-b']);
    const [a, b] = tenants.tenants.map((t) => t.config);

    expect(a.kit).toMatchObject({
      baseUrl: 'https://api.convertkit.com',
      credentials: { kind: 'apiKey', apiKey: SECRETS.BRAND_A_KIT_KEY },
      apiVersion: 'v4',
      ratePerMinute: 60,
    });
    expect(a.scim.bearerTokens).toEqual([
      { name: 'okta', token: SECRETS.BRAND_A_OKTA_TOKEN, readOnly: false },
      { name: 'iga', token: SECRETS.BRAND_A_IGA_TOKEN, readOnly: true },
    ]);
    expect(a.scim.jwt).toBeUndefined();
    expect(a.scim.groupTagPrefix).toBe('brand-a:');
    expect(a.scim.mapping).toBe(DEFAULT_MAPPING);
    expect(a.scim.mappingFile).toBeUndefined();
    expect(a.scim.unmappedAttributes).toBe('ignore');

    expect(b.kit).toMatchObject({
      baseUrl: 'https://kit.example.test',
      credentials: {
        kind: 'oauth',
        refreshToken: SECRETS.BRAND_B_REFRESH,
        clientId: 'brand-b-client',
        clientSecret: SECRETS.BRAND_B_CLIENT_SECRET,
        tokenStorePath: '.kit-tokens-brand-b.json',
      },
      ratePerMinute: 120, // KIT_RATE_LIMIT_PER_MINUTE's default
    });
    expect(b.scim.bearerTokens).toEqual([]);
    expect(b.scim.jwt).toEqual({
      jwksUrl: 'https://login.example.test/keys',
      issuer: 'https://login.example.test/',
      audience: 'api://brand-b',
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 60,
    });
    expect(b.scim.groupTagPrefix).toBeUndefined();
    expect(b.scim.mappingFile).toBe(path.join(FIXTURES, '../../../../mapping/entra-validator.yaml'));
    expect(b.scim.mapping).toEqual(loadMapping(path.join(REPO, 'mapping/entra-validator.yaml')));
    expect(b.scim.mapping).not.toEqual(a.scim.mapping);
    expect(b.scim.unmappedAttributes).toBe('refuse');

    expect(tenants.operatorTokens).toEqual([{ name: 'ops', token: SECRETS.OPS_TOKEN, readOnly: true }]);
  });

  it('keeps the process-wide settings of the environment in every tenant', () => {
    const tenants = load(file, { PORT: '9000', KIT_MAX_WAIT_MS: '5000', KIT_RATE_LIMIT_PER_MINUTE: '90' });
    for (const t of tenants.tenants) {
      expect(t.config.port).toBe(9000);
      expect(t.config.kit.maxWaitMs).toBe(5000);
    }
    // The environment's budget is the default of a tenant that names none.
    expect(tenants.tenants.map((t) => t.config.kit.ratePerMinute)).toEqual([60, 90]);
  });

  it('lists every secret of every tenant and of the operators for masking', () => {
    const secrets = secretsOfTenants(load(file));
    for (const s of Object.values(SECRETS)) expect(secrets).toContain(s);
  });

  it('derives a webhook secret per tenant when webhooks are on, never the same for two tenants', () => {
    const tenants = load(file, { PUBLIC_BASE_URL: 'https://scim.example.test' });
    const [a, b] = tenants.tenants.map((t) => t.config.changes.webhookSecret);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(secretsOfTenants(tenants)).toEqual(expect.arrayContaining([a, b]));
    expect(load(file).tenants[0].config.changes.webhookSecret).toBeUndefined();
  });

  it('reads the shipped tenants.example.yaml', () => {
    const env = Object.fromEntries(
      [
        'OPS_TOKEN',
        'BRAND_A_KIT_KEY',
        'BRAND_A_OKTA_TOKEN',
        'BRAND_B_KIT_ACCESS_TOKEN',
        'BRAND_B_KIT_REFRESH_TOKEN',
        'BRAND_B_KIT_CLIENT_ID',
        'BRAND_B_KIT_CLIENT_SECRET',
        'BRAND_B_IGA_TOKEN',
        'BRAND_B_EVENTS_TOKEN',
      ].map((name) => [name, secret(name)]),
    );
    const tenants = load(path.join(REPO, 'tenants.example.yaml'), {
      ...env,
      PUBLIC_BASE_URL: 'https://scim.example.com',
      REDIS_URL: 'redis://localhost:6379',
    });
    expect(tenants.tenants.map((t) => t.id)).toEqual(['brand-a', 'brand-b']);
    expect(tenants.tenants[1].config.kit.credentials).toMatchObject({ kind: 'oauth', tokenStorePath: 'redis' });
    expect(tenants.tenants[1].config.events?.receivers).toEqual([
      { name: 'sailpoint', token: env.BRAND_B_EVENTS_TOKEN, audience: 'https://iga.example.com' },
    ]);
  });
});

describe('${VAR} interpolation', () => {
  it('replaces whole values and parts of strings; $${ is a literal ${', () => {
    const file = write(`
version: 1
tenants:
  - id: brand-a
    kit:
      apiKey: \${BRAND_A_KIT_KEY}
      baseUrl: https://\${KIT_HOST}/kit
      ratePerMinute: \${RATE}
    groupTagPrefix: "$\${literal}:"
    bearerTokens:
      - name: okta
        token: \${BRAND_A_OKTA_TOKEN}
`);
    const [a] = load(file, { KIT_HOST: 'kit.example.test', RATE: '30' }).tenants;
    expect(a.config.kit.credentials).toEqual({ kind: 'apiKey', apiKey: SECRETS.BRAND_A_KIT_KEY });
    expect(a.config.kit.baseUrl).toBe('https://kit.example.test/kit');
    expect(a.config.kit.ratePerMinute).toBe(30);
    expect(a.config.scim.groupTagPrefix).toBe('${literal}:');
  });

  it('names an unset variable, the file, the line and the key, and nothing else about the value', () => {
    const problems = problemsOf(`
version: 1
tenants:
  - id: brand-a
    kit:
      apiKey: \${BRAND_A_KIT_KEY}
    bearerTokens:
      - name: okta
        token: \${NOT_SET_TOKEN}
`);
    // The unresolved token is not also reported as too short.
    expect(problems).toEqual([
      expect.stringMatching(
        /tenants\.yaml: line 9, column 16: tenants\.0\.bearerTokens\.0\.token \(tenant "brand-a"\): \$\{NOT_SET_TOKEN\} is not set in the environment$/,
      ),
    ]);
  });

  it('treats an empty variable as unset', () => {
    const problems = problemsOf(`version: 1\ntenants:${tenant('brand-a', '${EMPTY}')}\n`, { EMPTY: '  ' });
    expect(problems).toEqual([expect.stringContaining('${EMPTY} is not set in the environment')]);
  });
});

describe('rules of the file, each a problem naming the file, line and key', () => {
  it('version must be 1', () => {
    expect(problemsOf(`version: 2\ntenants:${tenant('brand-a')}\n`)).toEqual([
      expect.stringMatching(/tenants\.yaml: line 1, column 10: version: must be 1$/),
    ]);
  });

  it('names at least one tenant', () => {
    expect(problemsOf('version: 1\ntenants: []\n')).toEqual([
      expect.stringMatching(/line 2, column 10: tenants: name at least one tenant$/),
    ]);
    expect(problemsOf('version: 1\n')).toEqual([expect.stringMatching(/line 1, column 1: tenants: must be a list/)]);
  });

  it('refuses a file that is not a mapping, a YAML error, and a file that cannot be read', () => {
    expect(problemsOf('- 1\n')).toEqual([expect.stringMatching(/tenants\.yaml: line 1: expected a mapping/)]);
    expect(problemsOf('version: 1\ntenants:\n  - id: a\n   kit: x\n')[0]).toMatch(
      /tenants\.yaml: line 4, column \d+: /,
    );
    expect(() => load(path.join(dir, 'missing.yaml'))).toThrow(
      /^Invalid configuration: TENANTS_FILE: cannot read .*missing\.yaml \(it does not exist\)$/,
    );
    expect(() => load(dir)).toThrow(/TENANTS_FILE: cannot read .* \(it is a directory\)$/);
  });

  it('refuses unknown keys (a typo is never silently ignored)', () => {
    const problems = problemsOf(`version: 1\ntenants:${tenant('brand-a')}\n    groupTagPrefx: "a:"\n`);
    expect(problems).toEqual([
      expect.stringMatching(
        /line 9, column 20: tenants\.0\.groupTagPrefx \(tenant "brand-a"\): is not a setting of a tenants file/,
      ),
    ]);
  });

  it('refuses an alias bomb without expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      .concat(['b', 'c', 'd', 'e', 'f'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcde'[i]}`).join(', ')}]`))
      .join('\n');
    expect(problemsOf(`version: 1\n${bomb}\ntenants: []\n`)).toEqual([
      expect.stringMatching(/tenants\.yaml: .*alias/i),
    ]);
  });

  it('refuses prototype keys', () => {
    expect(problemsOf(`version: 1\n__proto__: {}\ntenants:${tenant('brand-a')}\n`)).toEqual([
      expect.stringMatching(/line 2, column 1: "__proto__" is not allowed as a key/),
    ]);
  });

  it('ids are unique', () => {
    const problems = problemsOf(`version: 1\ntenants:${tenant('brand-a')}${tenant('brand-a', 'x'.repeat(40))}\n`);
    expect(problems).toEqual([
      expect.stringMatching(/line 9, column 9: tenants\.1\.id: the id "brand-a" is already the id of tenants\.0$/),
    ]);
  });

  it('ids match the tenant id pattern (and an invalid id is not quoted)', () => {
    const problems = problemsOf(`version: 1\ntenants:${tenant('Brand_A')}\n`);
    expect(problems).toEqual([expect.stringMatching(/line 3, column 9: tenants\.0\.id: must be 1-63 lower-case/)]);
    expect(problems[0]).not.toContain('Brand_A');
  });

  it('each tenant has a Kit credential', () => {
    const problems = problemsOf(`version: 1
tenants:
  - id: brand-a
    kit:
      ratePerMinute: 10
    bearerTokens:
      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }
`);
    expect(problems).toEqual([
      expect.stringMatching(/line 5, column 7: tenants\.0\.kit \(tenant "brand-a"\): needs one Kit credential/),
    ]);
  });

  it('each tenant has exactly one Kit credential kind', () => {
    const problems = problemsOf(`version: 1
tenants:
  - id: brand-a
    kit:
      apiKey: \${BRAND_A_KIT_KEY}
      oauth: { accessToken: "\${BRAND_B_REFRESH}" }
    bearerTokens:
      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }
`);
    expect(problems).toEqual([
      expect.stringMatching(
        /line 6, column 14: tenants\.0\.kit\.oauth .*: give exactly one Kit credential, not apiKey and oauth/,
      ),
    ]);
  });

  it('a sandbox tenant has no Kit credential and needs no inbound one', () => {
    const sandbox = `version: 1\ntenants:\n  - id: try-out\n    kit: { sandbox: true, apiVersion: v3 }\n`;
    const [t] = load(write(sandbox)).tenants;
    expect(t.sandbox).toBe(true);
    expect(t.config.kit.credentials).toBeUndefined();
    expect(t.config.kit.apiVersion).toBe('v3');
    expect(t.config.scim.bearerTokens).toEqual([]);

    expect(problemsOf(`version: 1\ntenants:\n  - id: try-out\n    kit: { sandbox: true, apiKey: k }\n`)).toEqual([
      expect.stringMatching(/tenants\.0\.kit\.apiKey \(tenant "try-out"\): a sandbox tenant has no Kit credential/),
    ]);
  });

  it('a sandbox tenant is explicit, even with NODE_ENV=production; KIT_SANDBOX=off refuses it', () => {
    const sandbox = `version: 1\ntenants:\n  - id: try-out\n    kit: { sandbox: true }\n`;
    expect(load(write(sandbox), { NODE_ENV: 'production' }).tenants[0].sandbox).toBe(true);
    expect(problemsOf(sandbox, { KIT_SANDBOX: 'off' })).toEqual([
      expect.stringMatching(
        /line 4, .*tenants\.0\.kit\.sandbox \(tenant "try-out"\): KIT_SANDBOX=off rules out the built-in sandbox/,
      ),
    ]);
  });

  it('apiSecret (v3) only with apiVersion v3', () => {
    const v3 = (version: string) =>
      `version: 1\ntenants:\n  - id: brand-a\n    kit:\n      apiSecret: \${BRAND_A_KIT_KEY}${version}\n    bearerTokens:\n      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }\n`;
    expect(problemsOf(v3(''))).toEqual([
      expect.stringMatching(/line 5, column 18: tenants\.0\.kit\.apiSecret .*: apiSecret is the v3 credential/),
    ]);
    const [t] = load(write(v3('\n      apiVersion: v3'))).tenants;
    expect(t.config.kit).toMatchObject({
      apiVersion: 'v3',
      credentials: { kind: 'v3Secret', apiSecret: SECRETS.BRAND_A_KIT_KEY },
    });
  });

  it('ratePerMinute is 1 to 120', () => {
    for (const rate of ['0', '121']) {
      const problems = problemsOf(
        `version: 1\ntenants:\n  - id: brand-a\n    kit:\n      apiKey: k\n      ratePerMinute: ${rate}\n    bearerTokens:\n      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }\n`,
      );
      expect(problems).toEqual([
        expect.stringMatching(/line 6, column 22: tenants\.0\.kit\.ratePerMinute .*: must be 1 to 120/),
      ]);
    }
  });

  it('each tenant has an inbound credential unless it is a sandbox', () => {
    const problems = problemsOf(`version: 1\ntenants:\n  - id: brand-a\n    kit:\n      apiKey: k\n`);
    expect(problems).toEqual([
      expect.stringMatching(/line 3, column 5: tenants\.0 \(tenant "brand-a"\): needs an inbound credential/),
    ]);
  });

  it('bearer tokens are at least 32 characters, the problem naming the entry but not the token', () => {
    const short = 'Zq81xy7-short';
    const problems = problemsOf(`version: 1\ntenants:${tenant('brand-a', short)}\n`);
    expect(problems).toEqual([
      expect.stringMatching(
        /line 8, column 16: tenants\.0\.bearerTokens\.0\.token \(tenant "brand-a"\): the token "okta" is 13 characters long; bearer tokens must be at least 32/,
      ),
    ]);
    expect(problems[0]).not.toContain(short);
  });

  it('the same token in two tenants is refused: a token identifies one tenant', () => {
    const problems = problemsOf(
      `version: 1\ntenants:${tenant('brand-a', '${BRAND_A_OKTA_TOKEN}')}${tenant('brand-b', '${BRAND_A_OKTA_TOKEN}')}\n`,
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /line 14, column 16: tenants\.1\.bearerTokens\.0\.token \(tenant "brand-b"\): the token "okta" is the same token as the token "okta" of tenant "brand-a"/,
      ),
    ]);
  });

  it('a token of a tenant and of the operators is refused', () => {
    const problems = problemsOf(`version: 1
operators:
  bearerTokens:
    - { name: ops, token: "\${OPS_TOKEN}" }
tenants:${tenant('brand-a', '${OPS_TOKEN}')}
`);
    expect(problems).toEqual([
      expect.stringMatching(
        /tenants\.0\.bearerTokens\.0\.token \(tenant "brand-a"\): the token "okta" is the same token as the token "ops" of operators/,
      ),
    ]);
  });

  it('a token used twice in one tenant (read-write and read-only) is refused', () => {
    const problems = problemsOf(
      `version: 1\ntenants:${tenant('brand-a', '${BRAND_A_OKTA_TOKEN}')}\n    readOnlyBearerTokens:\n      - { name: iga, token: "\${BRAND_A_OKTA_TOKEN}" }\n`,
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /readOnlyBearerTokens\.0\.token .*: the token "iga" is the same token as the token "okta" of this tenant too/,
      ),
    ]);
  });

  it('two tenants on the same Kit credential must share one budget', () => {
    const entry = (id: string, rate: string) => `
  - id: ${id}
    kit:
      apiKey: \${BRAND_A_KIT_KEY}
      baseUrl: https://api.convertkit.com/
${rate}
    bearerTokens:
      - name: okta
        token: ${`${id}-token-`.padEnd(40, 'k')}`;
    const problems = problemsOf(
      `version: 1\ntenants:${entry('brand-a', '      ratePerMinute: 60')}${entry('brand-b', '      ratePerMinute: 30')}\n`,
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /line 15, column 22: tenants\.1\.kit\.ratePerMinute \(tenant "brand-b"\): tenants "brand-a" and "brand-b" use the same Kit credential, so they share one limiter/,
      ),
    ]);
    // The default base URL written out or left out is the same account; the same budget is fine.
    const same = write(
      `version: 1\ntenants:${entry('brand-a', '      ratePerMinute: 60')}${entry('brand-b', '      ratePerMinute: 60')}\n`,
    );
    expect(load(same).tenants.map((t) => t.config.kit.ratePerMinute)).toEqual([60, 60]);
    // Left out, the budget is KIT_RATE_LIMIT_PER_MINUTE's: 120 against 60 is refused.
    expect(
      problemsOf(`version: 1\ntenants:${entry('brand-a', '      ratePerMinute: 60')}${entry('brand-b', '')}\n`),
    ).toEqual([expect.stringContaining('use the same Kit credential')]);
  });

  it('two tenants on the same OAuth tokens must keep them in one store', () => {
    const entry = (id: string, store: string) => `
  - id: ${id}
    kit:
      oauth:
        refreshToken: \${BRAND_B_REFRESH}
        clientId: c
        clientSecret: \${BRAND_B_CLIENT_SECRET}${store}
    bearerTokens:
      - { name: okta, token: ${id}-okta-token-xxxxxxxxxxxxxxxxxxxxxxxxx }`;
    expect(problemsOf(`version: 1\ntenants:${entry('brand-a', '')}${entry('brand-b', '')}\n`)).toEqual([
      expect.stringMatching(
        /tenants\.1\.kit\.oauth\.tokenStore .*: tenants "brand-a" and "brand-b" use the same Kit OAuth tokens/,
      ),
    ]);
    const shared = '\n        tokenStore: redis';
    const tenants = load(write(`version: 1\ntenants:${entry('brand-a', shared)}${entry('brand-b', shared)}\n`), {
      REDIS_URL: 'redis://localhost:6379',
    });
    expect(tenants.tenants.map((t) => t.config.kit.credentials)).toEqual([
      expect.objectContaining({ tokenStorePath: 'redis' }),
      expect.objectContaining({ tokenStorePath: 'redis' }),
    ]);
  });

  it('keeps each tenant’s written files under DATA_DIR, and names the tenant’s line when one cannot be written', () => {
    const entry = (store: string) =>
      `version: 1\ntenants:\n  - id: brand-b\n    kit:\n      oauth:\n        accessToken: \${BRAND_B_REFRESH}${store}\n    bearerTokens:\n      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }\n`;
    const data = mkdtempSync(path.join(tmpdir(), 'tenants-data-'));
    try {
      const tenants = load(write(entry('')), { DATA_DIR: data });
      expect(tenants.tenants[0].config.kit.credentials).toMatchObject({
        tokenStorePath: path.join(data, '.kit-tokens-brand-b.json'),
      });
      mkdirSync(path.join(data, 'brand-b'));
      const relative = load(write(entry('\n        tokenStore: brand-b/tokens.json')), { DATA_DIR: data });
      expect(relative.tenants[0].config.kit.credentials).toMatchObject({
        tokenStorePath: path.join(data, 'brand-b', 'tokens.json'),
      });
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
    const missing = path.join(dir, 'no-such-dir', 'tokens.json');
    expect(problemsOf(entry(`\n        tokenStore: ${missing}`))).toEqual([
      expect.stringMatching(
        /line 7, column 21: tenants\.0\.kit\.oauth\.tokenStore \(tenant "brand-b"\): cannot use .*no-such-dir.* for the rotated Kit OAuth tokens \(its directory does not exist\)/,
      ),
    ]);
    expect(problemsOf(entry(`\n        tokenStore: ${dir}`))).toEqual([
      expect.stringMatching(
        /tenants\.0\.kit\.oauth\.tokenStore \(tenant "brand-b"\): cannot use .* \(it is a directory\)/,
      ),
    ]);
  });

  it('OAuth is checked as in the environment: a refresh token needs the client, redis needs REDIS_URL', () => {
    const oauth = (body: string) =>
      `version: 1\ntenants:\n  - id: brand-b\n    kit:\n      oauth:\n${body}\n    bearerTokens:\n      - { name: okta, token: "\${BRAND_A_OKTA_TOKEN}" }\n`;
    expect(problemsOf(oauth('        refreshToken: ${BRAND_B_REFRESH}'))).toEqual([
      expect.stringMatching(
        /line 6, column 23: tenants\.0\.kit\.oauth\.refreshToken .*: refreshToken needs clientId and clientSecret/,
      ),
    ]);
    expect(problemsOf(oauth('        accessToken: ${BRAND_B_REFRESH}\n        tokenStore: redis'))).toEqual([
      expect.stringMatching(
        /line 7, column 21: tenants\.0\.kit\.oauth\.tokenStore .*: tokenStore: redis needs REDIS_URL/,
      ),
    ]);
  });

  it('two tenants accepting the same JWT issuer and audience are refused', () => {
    const jwt =
      '\n    jwt: { jwksUrl: "https://idp.example.test/keys", issuer: "https://idp.example.test/", audience: scim }';
    const problems = problemsOf(
      `version: 1\ntenants:${tenant('brand-a', undefined, jwt)}${tenant('brand-b', undefined, jwt)}\n`,
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /tenants\.1\.jwt\.audience \(tenant "brand-b"\): tenant "brand-a" accepts JWTs of the same issuer and audience/,
      ),
    ]);
  });

  it('a mapping file problem is reported with the tenant and the mapping file’s own line', () => {
    const mapping = path.relative(dir, path.join(REPO, 'test/fixtures/mapping/broken.yaml'));
    const problems = problemsOf(`version: 1\ntenants:${tenant('brand-a')}\n    mappingFile: ${mapping}\n`);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems)
      expect(p).toMatch(
        /tenants\.yaml: line 9, column 18: tenants\.0\.mappingFile \(tenant "brand-a"\): .*broken\.yaml: line \d+/,
      );
    expect(problemsOf(`version: 1\ntenants:${tenant('brand-a')}\n    mappingFile: nowhere.yaml\n`)).toEqual([
      expect.stringMatching(
        /tenants\.0\.mappingFile \(tenant "brand-a"\): cannot read .*nowhere\.yaml \(it does not exist\)$/,
      ),
    ]);
  });

  it('reports every problem of a stage at once: first the shape, then the rules and the mapping files', () => {
    const shape = `version: 1\ntenants:${tenant('brand-a', 'short')}${tenant('brand-b')}\n    mappingFle: x.yaml\n`;
    expect(problemsOf(shape)).toEqual([
      expect.stringContaining('tenants.0.bearerTokens.0.token'),
      expect.stringContaining('tenants.1.mappingFle'),
    ]);
    const rules = `version: 1\ntenants:${tenant('brand-a', 'same-token'.padEnd(40, 's'))}${tenant('brand-b', 'same-token'.padEnd(40, 's'))}\n    mappingFile: nowhere.yaml\n`;
    expect(problemsOf(rules)).toEqual([
      expect.stringContaining('tenants.1.bearerTokens.0.token'),
      expect.stringContaining('tenants.1.mappingFile'),
    ]);
  });
});

describe('the environment beside TENANTS_FILE', () => {
  const file = () => write(`version: 1\ntenants:${tenant('brand-a')}\n`);

  it('refuses Kit credentials, inbound credentials and per-tenant settings, naming the variable only', () => {
    for (const [name, value] of [
      ['KIT_API_KEY', secret('env-kit')],
      ['SCIM_BEARER_TOKENS', `okta=${secret('env-okta')}`],
      ['SCIM_JWT_JWKS_URL', 'https://idp.example.test/keys'],
      ['GROUP_TAG_PREFIX', 'prefix-value:'],
      ['SCIM_UNMAPPED_ATTRIBUTES', 'refuse'],
      ['SCIM_EVENTS_RECEIVERS', `iga=${secret('env-iga')}`],
    ]) {
      let problems: string[] = [];
      try {
        const env = {
          [name]: value,
          ...(name.startsWith('SCIM_JWT') ? { SCIM_JWT_ISSUER: 'i', SCIM_JWT_AUDIENCE: 'a' } : {}),
        };
        const f = file();
        readTenantsFile(f, loadConfig({ ...env, TENANTS_FILE: f, PUBLIC_BASE_URL: 'https://scim.example.test' }), env);
      } catch (err) {
        problems = (err as ConfigError).problems;
      }
      expect(problems).toContainEqual(
        expect.stringMatching(new RegExp(`^${name}: is set in the environment beside TENANTS_FILE`)),
      );
      expect(problems.join('\n')).not.toContain(value);
    }
  });

  it('accepts a variable the file names itself', () => {
    const f = write(`version: 1\ntenants:${tenant('brand-a')}\n`.replace('key-of-brand-a', '${KIT_API_KEY}'));
    const [t] = load(f, { KIT_API_KEY: 'kit_from_env' }).tenants;
    expect(t.config.kit.credentials).toEqual({ kind: 'apiKey', apiKey: 'kit_from_env' });
  });

  it('does not count a variable named only in a comment as the file’s', () => {
    const f = write(`version: 1\n# apiKey: \${KIT_API_KEY}\ntenants:${tenant('brand-a')}\n`);
    const env = { KIT_API_KEY: secret('env-kit') };
    expect(() => load(f, env)).toThrow(/KIT_API_KEY: is set in the environment beside TENANTS_FILE/);
  });

  it('keeps the old configuration on a reload: a refused file throws and changes nothing', () => {
    const f = file();
    const env = { TENANTS_FILE: f };
    const base = loadConfig(env);
    const before = readTenantsFile(f, base, env);
    writeFileSync(f, 'version: 1\ntenants: []\n');
    expect(() => readTenantsFile(f, base, env)).toThrow(ConfigError);
    expect(before.tenants.map((t) => t.id)).toEqual(['brand-a']);
  });
});

describe('security events per tenant', () => {
  const events = (body: string) => `version: 1\ntenants:${tenant('brand-a')}\n    events:\n${body}\n`;
  const receivers = `      receivers:\n        - { name: iga, token: "\${OPS_TOKEN}" }`;

  it('reads receivers, push endpoints and defaults as SCIM_EVENTS_* does', () => {
    const file = write(
      events(
        `${receivers}\n      push: [{ receiver: iga, url: "https://iga.example.test/events" }]\n      maxWaitSeconds: 10`,
      ),
    );
    const [t] = load(file, { PUBLIC_BASE_URL: 'https://scim.example.test' }).tenants;
    expect(t.config.events).toEqual({
      receivers: [{ name: 'iga', token: SECRETS.OPS_TOKEN, audience: 'iga' }],
      signingKey: undefined,
      spoolDir: undefined,
      spoolMax: 10000,
      previousPublicKeys: [],
      keyFile: '.scim-events-key-brand-a.json',
      outboxMax: 100_000,
      leaseMs: 30_000,
      maxWaitMs: 10_000,
      maxEventsPerPoll: 1000,
      push: [{ receiver: 'iga', url: 'https://iga.example.test/events' }],
      deadLetterMs: 86_400_000,
    });
  });

  it('needs PUBLIC_BASE_URL, receivers that exist and a private signing key', () => {
    expect(problemsOf(events(receivers))).toEqual([
      expect.stringMatching(/tenants\.0\.events\.receivers \(tenant "brand-a"\): security events need PUBLIC_BASE_URL/),
    ]);
    const env = { PUBLIC_BASE_URL: 'https://scim.example.test', KEY: '{"kty":"EC"}' };
    expect(
      problemsOf(
        events(`${receivers}\n      push: [{ receiver: other, url: "https://x.test" }]\n      signingKey: \${KEY}`),
        env,
      ),
    ).toEqual([
      expect.stringMatching(/tenants\.0\.events\.push\.0\.receiver .*: is not one of this tenant’s receivers/),
    ]);
    // A public key where the private one belongs: named, never quoted.
    expect(problemsOf(events(`${receivers}\n      signingKey: \${KEY}`), env)).toEqual([
      expect.stringMatching(/line 12, column 19: tenants\.0\.events\.signingKey .*: must be a private JWK/),
    ]);
  });

  it('takes a private signing key as YAML or as JSON from the environment', () => {
    const env = { PUBLIC_BASE_URL: 'https://scim.example.test', KEY: '{"kty":"EC","crv":"P-256","d":"private-d"}' };
    const [t] = load(write(events(`${receivers}\n      signingKey: \${KEY}`)), env).tenants;
    expect(t.config.events?.signingKey).toEqual({ kty: 'EC', crv: 'P-256', d: 'private-d' });
    expect(secretsOfTenants({ source: { kind: 'environment' }, tenants: [t], operatorTokens: [] })).toContain(
      'private-d',
    );
    const yaml = `${receivers}\n      signingKey: { kty: EC, crv: P-256, d: yaml-d }\n      previousPublicKeys: [{ kty: EC, crv: P-256, x: a, y: b }]`;
    const [u] = load(write(events(yaml)), env).tenants;
    expect(u.config.events?.signingKey).toEqual({ kty: 'EC', crv: 'P-256', d: 'yaml-d' });
    expect(u.config.events?.previousPublicKeys).toEqual([{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }]);
  });

  it('a receiver token is a token like the others: at least 32 characters, unique in the file', () => {
    const env = { PUBLIC_BASE_URL: 'https://scim.example.test' };
    const short = events(`      receivers:\n        - { name: iga, token: too-short-token }`);
    expect(problemsOf(short, env)).toEqual([
      expect.stringMatching(/the token of receiver "iga" is 15 characters long/),
    ]);
    const reused = events(`      receivers:\n        - { name: iga, token: ${'brand-a-okta-token-'.padEnd(40, 'k')} }`);
    expect(problemsOf(reused, env)).toEqual([
      expect.stringMatching(
        /events\.receivers\.0\.token .*: the token of receiver "iga" is the same token as the token "okta"/,
      ),
    ]);
  });
});
