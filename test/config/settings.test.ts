import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/environment';
import { MIN_BEARER_TOKEN_LENGTH } from '../../src/config/settings';
import { loadTenants } from '../../src/config/tenants/tenantsFile';

// src/config/settings.ts: a tenant's settings have one schema, whether the environment gives them or an entry of
// a tenants file does. The same bad value is refused by the same rule with the same words, located by the
// variable or by the file, line and key, and never quoted.

type Env = Record<string, string>;

const FIXTURES = path.join(__dirname, 'fixtures', 'settings');
const secret = (label: string) => `SECRET-${label}-`.padEnd(MIN_BEARER_TOKEN_LENGTH + 8, 'x');
const TOKEN = secret('okta');
const KIT_KEY = secret('kit');

function refused(read: () => unknown): string[] {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

/** The rule's words in an environment problem: after `VAR: ` (and `VAR ` before a predicate such as "must …"). */
function ruleOfEnvironment(problem: string, variable: string): string {
  expect(problem.startsWith(`${variable}: `)).toBe(true);
  const text = problem.slice(variable.length + 2);
  return text.startsWith(`${variable} must `) ? text.slice(variable.length + 1) : text;
}

/** The rule's words in a tenants file problem: after `file: line L, column C: key (tenant "brand-a"): `. */
function ruleOfFile(problem: string, file: string, key: string): string {
  const location = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line \\d+, column \\d+: `);
  expect(problem).toMatch(location);
  const rest = problem.replace(location, '');
  const prefix = `${key} (tenant "brand-a"): `;
  expect(rest.startsWith(prefix)).toBe(true);
  return rest.slice(prefix.length);
}

interface SharedRule {
  rule: string;
  /** The environment's tenant with the bad value, and the variable the problem names. */
  env: Env;
  variable: string;
  /** The same bad value in a file's entry (fixtures/settings/<file>, values by ${VAR}), and the key named. */
  file: string;
  fileEnv: Env;
  key: string;
  says: RegExp;
  /** How the file writes a setting the rule names, and how the environment does. */
  names?: Array<[string, string]>;
}

const rules: SharedRule[] = [
  {
    rule: 'a bearer token under 32 characters',
    env: { KIT_API_KEY: KIT_KEY, SCIM_BEARER_TOKENS: 'okta=Zq81xy7-short' },
    variable: 'SCIM_BEARER_TOKENS',
    file: 'token.yaml',
    fileEnv: { TOKEN: 'Zq81xy7-short' },
    key: 'tenants.0.bearerTokens.0.token',
    says: /^the token "okta" is 13 characters long; bearer tokens must be at least 32 \(generate one with: openssl rand -hex 32\)$/,
  },
  {
    rule: 'a receiver token under 32 characters',
    env: {
      KIT_API_KEY: KIT_KEY,
      SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      SCIM_EVENTS_RECEIVERS: 'iga=Zq81xy7-short',
      PUBLIC_BASE_URL: 'https://scim.example.test',
    },
    variable: 'SCIM_EVENTS_RECEIVERS',
    file: 'receiver.yaml',
    fileEnv: { RECEIVER_TOKEN: 'Zq81xy7-short', PUBLIC_BASE_URL: 'https://scim.example.test' },
    key: 'tenants.0.events.receivers.0.token',
    says: /^the token of receiver "iga" is 13 characters long; bearer tokens must be at least 32 \(generate one/,
  },
  ...['0', '121'].map((rate) => ({
    rule: `a Kit budget of ${rate} a minute`,
    env: { KIT_API_KEY: KIT_KEY, SCIM_BEARER_TOKENS: `okta=${TOKEN}`, KIT_RATE_LIMIT_PER_MINUTE: rate },
    variable: 'KIT_RATE_LIMIT_PER_MINUTE',
    file: 'rate.yaml',
    fileEnv: { RATE: rate },
    key: 'tenants.0.kit.ratePerMinute',
    says: /^must be 1 to 120 \(Kit’s limit\)$/,
  })),
  {
    rule: 'a symmetric JWT algorithm',
    env: { KIT_API_KEY: KIT_KEY, SCIM_BEARER_TOKENS: `okta=${TOKEN}`, SCIM_JWT_ALGORITHMS: 'RS256,HS256' },
    variable: 'SCIM_JWT_ALGORITHMS',
    file: 'jwt.yaml',
    fileEnv: { ALGORITHM: 'HS256', JWKS_URL: 'https://idp.example.test/keys' },
    key: 'tenants.0.jwt.algorithms.1',
    says: /^HS\* and none are not allowed$/,
  },
  {
    rule: 'a JWKS URL that is not http(s)',
    env: {
      KIT_API_KEY: KIT_KEY,
      SCIM_JWT_JWKS_URL: 'ftp://idp.example.test/keys',
      SCIM_JWT_ISSUER: 'https://idp.example.test/',
      SCIM_JWT_AUDIENCE: 'scim',
    },
    variable: 'SCIM_JWT_JWKS_URL',
    file: 'jwt.yaml',
    fileEnv: { ALGORITHM: 'ES256', JWKS_URL: 'ftp://idp.example.test/keys' },
    key: 'tenants.0.jwt.jwksUrl',
    says: /^must be an http\(s\) URL \(without credentials\)$/,
  },
  {
    rule: 'an OAuth refresh token without its client',
    env: { KIT_REFRESH_TOKEN: secret('refresh'), SCIM_BEARER_TOKENS: `okta=${TOKEN}` },
    variable: 'KIT_REFRESH_TOKEN',
    file: 'refresh.yaml',
    fileEnv: { REFRESH_TOKEN: secret('refresh') },
    key: 'tenants.0.kit.oauth.refreshToken',
    says: /^refreshToken needs clientId and clientSecret$/,
    names: [
      ['refreshToken', 'KIT_REFRESH_TOKEN'],
      ['clientId', 'KIT_CLIENT_ID'],
      ['clientSecret', 'KIT_CLIENT_SECRET'],
    ],
  },
  {
    rule: 'a v3 secret without the v3 API',
    env: { KIT_API_SECRET: secret('v3'), SCIM_BEARER_TOKENS: `okta=${TOKEN}` },
    variable: 'KIT_API_SECRET',
    file: 'v3.yaml',
    fileEnv: { KIT_SECRET: secret('v3') },
    key: 'tenants.0.kit.apiSecret',
    says: /^apiSecret is the v3 credential: set apiVersion: v3 with it, or use apiKey for v4$/,
    names: [
      ['apiSecret', 'KIT_API_SECRET'],
      ['apiVersion: v3', 'KIT_API_VERSION=v3'],
      ['apiKey', 'KIT_API_KEY'],
    ],
  },
];

describe('one rule, whichever source gives the setting', () => {
  it.each(rules.map((r) => [r.rule, r] as const))('%s: the same rule says the same', (_rule, r) => {
    const fromEnv = refused(() => loadConfig(r.env));
    expect(fromEnv).toHaveLength(1);
    const envRule = ruleOfEnvironment(fromEnv[0], r.variable);

    const file = path.join(FIXTURES, r.file);
    const env = { KIT_KEY, TOKEN, ...r.fileEnv, TENANTS_FILE: file };
    const fromFile = refused(() => loadTenants(loadConfig(env), env));
    expect(fromFile).toHaveLength(1);
    const fileRule = ruleOfFile(fromFile[0], file, r.key);

    expect(fileRule).toMatch(r.says);
    // The file's words with the environment's names for the settings they name are the environment's words.
    const named = (r.names ?? []).reduce((text, [key, variable]) => text.split(key).join(variable), fileRule);
    expect(envRule).toBe(named);
    // Neither quotes the value.
    for (const value of [...Object.values(r.env), ...Object.values(r.fileEnv)].filter((v) => v.length >= 10))
      expect([...fromEnv, ...fromFile].join('\n')).not.toContain(value);
  });
});

describe('the same settings make the same tenant', () => {
  it('from the environment and from a file entry: Kit account, budget, tokens, JWT and group tag prefix', () => {
    const READONLY_TOKEN = secret('iga');
    const fromEnv = loadConfig({
      KIT_API_KEY: KIT_KEY,
      KIT_RATE_LIMIT_PER_MINUTE: '45',
      GROUP_TAG_PREFIX: 'brand-a:',
      SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      SCIM_READONLY_BEARER_TOKENS: `iga=${READONLY_TOKEN}`,
      SCIM_JWT_JWKS_URL: 'https://idp.example.test/keys',
      SCIM_JWT_ISSUER: 'https://idp.example.test/',
      SCIM_JWT_AUDIENCE: 'scim',
    });
    const env = { KIT_KEY, TOKEN, READONLY_TOKEN, TENANTS_FILE: path.join(FIXTURES, 'tenant.yaml') };
    const [fromFile] = loadTenants(loadConfig(env), env).tenants.map((t) => t.config);
    for (const config of [fromEnv, fromFile])
      expect({
        kit: config.kit,
        bearerTokens: config.scim.bearerTokens,
        jwt: config.scim.jwt,
        groupTagPrefix: config.scim.groupTagPrefix,
      }).toEqual({
        kit: expect.objectContaining({
          baseUrl: 'https://api.convertkit.com',
          credentials: { kind: 'apiKey', apiKey: KIT_KEY },
          apiVersion: 'v4',
          ratePerMinute: 45,
        }),
        bearerTokens: [
          { name: 'okta', token: TOKEN, readOnly: false },
          { name: 'iga', token: READONLY_TOKEN, readOnly: true },
        ],
        jwt: {
          jwksUrl: 'https://idp.example.test/keys',
          issuer: 'https://idp.example.test/',
          audience: 'scim',
          algorithms: ['RS256', 'ES256'],
          clockSkewSeconds: 60,
        },
        groupTagPrefix: 'brand-a:',
      });
  });
});
