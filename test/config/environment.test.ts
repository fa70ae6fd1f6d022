import { tmpdir } from 'node:os';
import { ConfigError, loadConfig, MIN_BEARER_TOKEN_LENGTH, secretsOf } from '../../src/config/environment';

// src/config/environment.ts: read and validated once at start-up; a bad value is refused with a message naming the
// variable, never echoing a secret.

const LONG = 'a'.repeat(MIN_BEARER_TOKEN_LENGTH);
const base = { KIT_API_KEY: 'kit_0123456789abcdef', SCIM_BEARER_TOKENS: `okta=${LONG}` };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('bearer token length', () => {
  it('refuses a token under 32 characters, naming the variable and the entry but not the token', () => {
    const short = 'Zq81xy7'; // 7 characters
    const problems = problemsOf({ ...base, SCIM_BEARER_TOKENS: `okta=${LONG},entra=${short}` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^SCIM_BEARER_TOKENS: the token "entra" is 7 characters long/);
    expect(problems[0]).toMatch(/at least 32/);
    expect(problems.join('\n')).not.toContain(short);
  });

  it('applies to read-only tokens and to bare tokens', () => {
    const short = 'b'.repeat(MIN_BEARER_TOKEN_LENGTH - 1);
    const problems = problemsOf({ ...base, SCIM_READONLY_BEARER_TOKENS: short });
    expect(problems).toEqual([expect.stringMatching(/^SCIM_READONLY_BEARER_TOKENS: the token "readonly-1" is 31/)]);
    expect(problems.join('\n')).not.toContain(short);
  });

  it('accepts tokens of 32 characters and more', () => {
    const config = loadConfig({ ...base, SCIM_READONLY_BEARER_TOKENS: `iga=${'c'.repeat(64)}` });
    expect(config.scim.bearerTokens.map((t) => [t.name, t.readOnly])).toEqual([
      ['okta', false],
      ['iga', true],
    ]);
  });

  it('lists every configured secret for masking, whatever its length', () => {
    const config = loadConfig({ ...base, KIT_API_KEY: 'k7' });
    expect(secretsOf(config)).toEqual(['k7', LONG]);
  });
});

describe('public URLs', () => {
  it('takes PUBLIC_BASE_URL without its trailing slash, and the allowed hosts lower-cased', () => {
    const config = loadConfig({
      ...base,
      PUBLIC_BASE_URL: 'https://scim.example.com/scim/v2/',
      SCIM_ALLOWED_HOSTS: 'SCIM.example.com, localhost:8080,[::1]:8080',
    });
    expect(config.publicUrls).toEqual({
      baseUrl: 'https://scim.example.com',
      allowedHosts: ['scim.example.com', 'localhost:8080', '[::1]:8080'],
    });
  });

  it('refuses a PUBLIC_BASE_URL that is not a plain http(s) URL, and a host that is not a host', () => {
    expect(problemsOf({ ...base, PUBLIC_BASE_URL: 'ftp://x.example' })).toEqual([
      expect.stringMatching(/^PUBLIC_BASE_URL: /),
    ]);
    expect(problemsOf({ ...base, PUBLIC_BASE_URL: 'https://x.example/scim/v2?x=1' })).toEqual([
      expect.stringMatching(/^PUBLIC_BASE_URL: .*without query/),
    ]);
    expect(problemsOf({ ...base, SCIM_ALLOWED_HOSTS: 'good.example, evil.example/path' })).toEqual([
      'SCIM_ALLOWED_HOSTS: "evil.example/path" is not a host name (with an optional :port)',
    ]);
  });
});

describe('SCIM_IP_ALLOWLIST', () => {
  it('parses IPv4 and IPv6 ranges and bare addresses', () => {
    const config = loadConfig({ ...base, SCIM_IP_ALLOWLIST: '203.0.113.0/24, 2001:db8::/32, 198.51.100.7' });
    expect(config.ipAllowlist).toEqual([
      { address: '203.0.113.0', prefix: 24, family: 'ipv4' },
      { address: '2001:db8::', prefix: 32, family: 'ipv6' },
      { address: '198.51.100.7', prefix: 32, family: 'ipv4' },
    ]);
    expect(loadConfig(base).ipAllowlist).toBeUndefined();
  });

  it.each([
    ['203.0.113.0/33', /prefix length outside 0-32/],
    ['2001:db8::/129', /prefix length outside 0-128/],
    ['203.0.113/24', /not an IP address/],
    ['example.com', /not an IP address/],
    ['10.0.0.0/8/1', /not an IP address/],
    [' , ', /lists no address/],
  ])('refuses %p at start-up', (value, message) => {
    const problems = problemsOf({ ...base, SCIM_IP_ALLOWLIST: value });
    expect(problems).toEqual([expect.stringMatching(/^SCIM_IP_ALLOWLIST: /)]);
    expect(problems[0]).toMatch(message);
  });
});

describe('change tracking settings: snapshot, journal, mirror, webhooks', () => {
  it('has webhooks and the mirror off without PUBLIC_BASE_URL, and on with it', () => {
    const off = loadConfig(base);
    expect(off.changes).toMatchObject({ lookupSnapshotSeconds: 10, mirror: false, webhooks: false });
    // Without webhooks the lookup mirror is on (filters Kit cannot answer share one walk).
    expect(off.changes.lookupMirror).toBe(true);
    expect(loadConfig({ ...base, MIRROR: 'off' }).changes).toMatchObject({ mirror: false, lookupMirror: false });
    expect(loadConfig({ ...base, MIRROR: 'lookups' }).changes).toMatchObject({ mirror: false, lookupMirror: true });
    expect(off.changes.webhookSecret).toBeUndefined();
    const on = loadConfig({ ...base, PUBLIC_BASE_URL: 'https://scim.example.com' });
    expect(on.changes).toMatchObject({ mirror: true, lookupMirror: false, webhooks: true, mirrorRefreshMs: 3_600_000 });
    // Derived from the credential: the same on every replica, and masked like every secret.
    expect(on.changes.webhookSecret).toBe(
      loadConfig({ ...base, PUBLIC_BASE_URL: 'https://scim.example.com' }).changes.webhookSecret,
    );
    expect(on.changes.webhookSecret!.length).toBeGreaterThanOrEqual(32);
    expect(secretsOf(on)).toContain(on.changes.webhookSecret);
    expect(loadConfig({ ...base, PUBLIC_BASE_URL: 'https://scim.example.com', MIRROR: 'off' }).changes.mirror).toBe(
      false,
    );
    expect(loadConfig({ ...base, MIRROR: 'on', LOOKUP_SNAPSHOT_SECONDS: '0' }).changes).toMatchObject({
      mirror: true,
      webhooks: false,
      lookupSnapshotSeconds: 0,
    });
  });

  it('refuses webhooks without a public URL and a short or URL-unsafe webhook secret, without echoing it', () => {
    expect(problemsOf({ ...base, KIT_WEBHOOKS: 'on' })[0]).toMatch(/^KIT_WEBHOOKS: .*PUBLIC_BASE_URL/);
    const short = 'short-secret';
    const problems = problemsOf({ ...base, KIT_WEBHOOK_SECRET: short });
    expect(problems[0]).toMatch(/^KIT_WEBHOOK_SECRET: .*at least 32/);
    expect(problems.join('\n')).not.toContain(short);
    expect(problemsOf({ ...base, KIT_WEBHOOK_SECRET: `${'x'.repeat(32)}/..` })[0]).toMatch(/URL path segment/);
    expect(problemsOf({ ...base, MIRROR: 'yes' })[0]).toMatch(/^MIRROR:/);
  });

  it('gives webhook re-reads 10 % of the Kit budget by default, and refuses a share that is not 1 to 100', () => {
    expect(loadConfig(base).changes.webhookRereadSharePercent).toBe(10);
    expect(loadConfig({ ...base, WEBHOOK_REREAD_SHARE: '25' }).changes.webhookRereadSharePercent).toBe(25);
    expect(problemsOf({ ...base, WEBHOOK_REREAD_SHARE: '0' })[0]).toMatch(/^WEBHOOK_REREAD_SHARE: .*greater than 0/);
    expect(problemsOf({ ...base, WEBHOOK_REREAD_SHARE: '101' })[0]).toMatch(/^WEBHOOK_REREAD_SHARE: .*at most 100/);
    expect(problemsOf({ ...base, WEBHOOK_REREAD_SHARE: '10%' })[0]).toMatch(/^WEBHOOK_REREAD_SHARE: .*whole number/);
  });
});

describe('SCIM security events settings', () => {
  const TOKEN = 'r'.repeat(MIN_BEARER_TOKEN_LENGTH);
  const base = { KIT_API_KEY: 'k7', SCIM_BEARER_TOKENS: 'x'.repeat(40), PUBLIC_BASE_URL: 'https://scim.example.com' };

  it('receivers: name=token@audience, the audience defaulting to the name; tokens and the key are secrets', () => {
    const key = '{"kty":"EC","crv":"P-256","x":"x","y":"y","d":"private-d-value"}';
    const config = loadConfig({
      ...base,
      SCIM_EVENTS_RECEIVERS: `iga=${TOKEN}@https://iga.example/events,sailpoint=${TOKEN}2`,
      SCIM_EVENTS_SIGNING_KEY: key,
    });
    expect(config.events!.receivers).toEqual([
      { name: 'iga', token: TOKEN, audience: 'https://iga.example/events' },
      { name: 'sailpoint', token: `${TOKEN}2`, audience: 'sailpoint' },
    ]);
    expect(secretsOf(config)).toEqual(expect.arrayContaining([TOKEN, `${TOKEN}2`, 'private-d-value']));
    expect(loadConfig(base).events).toBeUndefined();
  });

  it('refuses short receiver tokens, a missing issuer and a public key as signing key, without echoing secrets', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    const short = attempt({ SCIM_EVENTS_RECEIVERS: 'iga=shorttoken' });
    expect(short).toMatch(/receiver "iga" is 10 characters long/);
    expect(short).not.toContain('shorttoken');
    expect(attempt({ SCIM_EVENTS_RECEIVERS: `iga=${TOKEN}`, PUBLIC_BASE_URL: '' })).toMatch(/PUBLIC_BASE_URL/);
    expect(attempt({ SCIM_EVENTS_SIGNING_KEY: '{"kty":"EC","x":"1"}' })).toMatch(/SCIM_EVENTS_SIGNING_KEY/);
    expect(attempt({ SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS: '[{"kty":"EC","d":"x"}]' })).toMatch(/PREVIOUS_PUBLIC_KEYS/);
    // The spool directory is checked once, at start-up: it must exist and be writable.
    expect(attempt({ SCIM_EVENTS_SPOOL_DIR: '/no/such/spool/dir' })).toMatch(/SCIM_EVENTS_SPOOL_DIR/);
    expect(attempt({ SCIM_EVENTS_SPOOL_DIR: tmpdir(), SCIM_EVENTS_SPOOL_MAX: '0' })).toMatch(/SCIM_EVENTS_SPOOL_MAX/);
    expect(attempt({ SCIM_EVENTS_SPOOL_DIR: tmpdir() })).not.toMatch(/SCIM_EVENTS_SPOOL_DIR/);
  });
});

describe('the built-in Kit sandbox: only where nothing says "deployment"', () => {
  const TOKEN = `okta=${'d'.repeat(64)}`;
  const JWT = {
    SCIM_JWT_JWKS_URL: 'https://idp.example.com/jwks',
    SCIM_JWT_ISSUER: 'https://idp.example.com',
    SCIM_JWT_AUDIENCE: 'convertkit-scim',
  };
  // Each alone says the server is deployed for an IdP, not tried out.
  const signals: Array<[string, Record<string, string>]> = [
    ['SCIM_BEARER_TOKENS', { SCIM_BEARER_TOKENS: TOKEN }],
    ['SCIM_READONLY_BEARER_TOKENS', { SCIM_READONLY_BEARER_TOKENS: `iga=${'e'.repeat(64)}` }],
    ['SCIM_JWT_AUDIENCE, SCIM_JWT_ISSUER, SCIM_JWT_JWKS_URL', JWT],
    ['SCIM_JWT_CLOCK_SKEW_SECONDS', { SCIM_JWT_CLOCK_SKEW_SECONDS: '30' }],
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
  ];

  it('without any configuration runs on the sandbox', () => {
    const config = loadConfig({});
    expect(config.kit.credentials).toBeUndefined();
    expect(config.sandboxMode).toBe('auto');
    expect(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'debug' }).kit.credentials).toBeUndefined();
  });

  it.each(signals)('%s without a Kit credential stops the start-up with one line naming what to set', (named, env) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    const { message } = new ConfigError(problems);
    expect(message.split('\n')).toHaveLength(1);
    expect(problems[0]).toMatch(/^KIT_API_KEY: no Kit credential is set, yet /);
    expect(problems[0]).toContain(named);
    for (const variable of ['KIT_ACCESS_TOKEN', 'KIT_API_SECRET with KIT_API_VERSION=v3', 'KIT_SANDBOX=on'])
      expect(problems[0]).toContain(variable);
    for (const value of Object.values(env).filter((v) => v.length > 10)) expect(message).not.toContain(value);
  });

  it.each(signals)('%s with KIT_SANDBOX=on runs on the sandbox all the same', (_named, env) => {
    const config = loadConfig({ ...env, KIT_SANDBOX: 'on' });
    expect(config.kit.credentials).toBeUndefined();
    expect(config.sandboxMode).toBe('on');
  });

  it('names every signal at once', () => {
    expect(problemsOf({ SCIM_BEARER_TOKENS: TOKEN, NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/yet SCIM_BEARER_TOKENS, NODE_ENV=production say this is a deployment/),
    ]);
  });

  it('KIT_SANDBOX=off refuses to start without a Kit credential, even with no other setting', () => {
    expect(problemsOf({ KIT_SANDBOX: 'off' })).toEqual([
      expect.stringMatching(
        /^KIT_API_KEY: no Kit credential is set, and KIT_SANDBOX=off rules out the built-in sandbox: set KIT_API_KEY/,
      ),
    ]);
    expect(loadConfig({ ...base, KIT_SANDBOX: 'off' }).sandboxMode).toBe('off');
  });

  it('is beside the other problems, not instead of them', () => {
    expect(problemsOf({ SCIM_BEARER_TOKENS: TOKEN, KIT_RATE_LIMIT_PER_MINUTE: '500' })).toEqual([
      expect.stringMatching(/^KIT_RATE_LIMIT_PER_MINUTE: /),
      expect.stringMatching(/^KIT_API_KEY: no Kit credential is set/),
    ]);
  });

  it('any Kit credential is a real Kit account: the signals are what a deployment needs', () => {
    for (const credentials of [
      { KIT_API_KEY: 'kit_0123456789abcdef' },
      { KIT_ACCESS_TOKEN: 'access-0123456789' },
      { KIT_API_VERSION: 'v3', KIT_API_SECRET: 'kit_secret_0123456789abcdef' },
    ])
      expect(
        loadConfig({ ...credentials, SCIM_BEARER_TOKENS: TOKEN, NODE_ENV: 'production' }).kit.credentials,
      ).toBeDefined();
  });

  it('KIT_SANDBOX=on beside a Kit credential is ambiguous and refused', () => {
    const kitCredentials: Array<Record<string, string>> = [
      { KIT_API_KEY: 'kit_0123456789abcdef' },
      { KIT_REFRESH_TOKEN: 'refresh-0123456789', KIT_CLIENT_ID: 'app', KIT_CLIENT_SECRET: 'app-secret-0123456789' },
      { KIT_API_VERSION: 'v3', KIT_API_SECRET: 'kit_secret_0123456789abcdef' },
    ];
    for (const credentials of kitCredentials) {
      const problems = problemsOf({ ...credentials, KIT_SANDBOX: 'on' });
      expect(problems).toEqual([
        expect.stringMatching(
          /^KIT_SANDBOX: KIT_SANDBOX=on runs on the built-in sandbox, yet a Kit credential is set too/,
        ),
      ]);
      for (const value of Object.values(credentials).filter((v) => v.length > 10))
        expect(problems.join('\n')).not.toContain(value);
    }
  });

  it('with TENANTS_FILE the file decides: no rule for the environment, and KIT_SANDBOX=on is refused', () => {
    expect(loadConfig({ TENANTS_FILE: 'tenants.yaml', NODE_ENV: 'production' }).kit.credentials).toBeUndefined();
    expect(problemsOf({ TENANTS_FILE: 'tenants.yaml', KIT_SANDBOX: 'on' })).toEqual([
      expect.stringMatching(/^KIT_SANDBOX: .*with TENANTS_FILE give an entry kit: \{sandbox: true\}/),
    ]);
  });

  it('KIT_SANDBOX takes on or off', () => {
    expect(problemsOf({ KIT_SANDBOX: 'yes' })).toEqual([expect.stringMatching(/^KIT_SANDBOX: /)]);
  });
});

describe('FILTER_SCAN_BUDGET', () => {
  it('defaults to 10,000,000 terms × rows, takes a whole number above 0 and refuses anything else by name', () => {
    expect(loadConfig(base).scim.filterScanBudget).toBe(10_000_000);
    expect(loadConfig({ ...base, FILTER_SCAN_BUDGET: '250000' }).scim.filterScanBudget).toBe(250_000);
    for (const bad of ['0', '-5', '1e6', 'lots']) {
      expect(problemsOf({ ...base, FILTER_SCAN_BUDGET: bad })).toEqual([
        expect.stringMatching(/^FILTER_SCAN_BUDGET: FILTER_SCAN_BUDGET must be (a whole number|greater than 0)$/),
      ]);
    }
  });
});

describe('SCIM_UNMAPPED_ATTRIBUTES', () => {
  it('ignores unmapped attributes by default, takes ignore or refuse and refuses anything else by name', () => {
    expect(loadConfig(base).scim.unmappedAttributes).toBe('ignore');
    expect(loadConfig({ ...base, SCIM_UNMAPPED_ATTRIBUTES: 'refuse' }).scim.unmappedAttributes).toBe('refuse');
    expect(loadConfig({ ...base, SCIM_UNMAPPED_ATTRIBUTES: 'ignore' }).scim.unmappedAttributes).toBe('ignore');
    expect(problemsOf({ ...base, SCIM_UNMAPPED_ATTRIBUTES: 'drop' })).toEqual([
      expect.stringMatching(/^SCIM_UNMAPPED_ATTRIBUTES: .*ignore or refuse/),
    ]);
  });
});
