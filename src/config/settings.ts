import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { z } from 'zod';

// A tenant's settings, one schema for both places they are written: the environment (one tenant, its variables
// mapped onto these fields by environmentSettings.ts) and each entry of a tenants file (its YAML keys are these
// fields). Each rule is written once, here. A message never quotes a value (after ${VAR} interpolation any
// string may be a secret); a rule that names another setting asks the source how it writes it (SettingNames),
// so the same rule reads `KIT_API_VERSION=v3` in the environment and `apiVersion: v3` in the file. Each reader
// maps a problem's field path back to its variable or to its file:line:key.

/**
 * RFC 6750 tokens are guessable when short; 32 characters of `openssl rand -hex 32` (64) carry far more than the
 * 128 bits that make guessing pointless, and a short token is usually a placeholder left in a config.
 */
export const MIN_BEARER_TOKEN_LENGTH = 32;

/** Kit's own limit per API key (requests per rolling minute). */
export const MAX_RATE_PER_MINUTE = 120;

/** A field's place in the schema: `['kit', 'oauth', 'refreshToken']`, `['bearerTokens', 0, 'token']`. */
export type SettingPath = ReadonlyArray<string | number>;

/** How a source writes a setting, for messages that name one setting from another's rule. */
export interface SettingNames {
  /** `KIT_API_KEY` or `apiKey`. */
  of(path: SettingPath): string;
  /** The setting with a value: `KIT_API_VERSION=v3` or `apiVersion: v3`. */
  set(path: SettingPath, value: string): string;
}

/** What a tenant's rules need to know of the process's settings, and how the source names things. */
export interface SettingsContext {
  names: SettingNames;
  /** REDIS_URL is set (a token store in Redis needs it). */
  redis: boolean;
  /** PUBLIC_BASE_URL is set (security events' issuer). */
  publicBaseUrl: boolean;
}

// ---- Values: a number from YAML, or text (the environment, or YAML's `${VAR}`).

export const wholeNumber = z
  .union([z.number(), z.string()], 'must be a whole number')
  .refine((v) => (typeof v === 'number' ? Number.isInteger(v) && v >= 0 : /^\d+$/.test(v)), 'must be a whole number')
  .transform(Number);

export const positiveWholeNumber = wholeNumber.refine((n) => n > 0, 'must be greater than 0');

export const atMost = (max: number, why = '') =>
  positiveWholeNumber.refine((n) => n <= max, `must be at most ${max}${why}`);

/** A share of a budget, in percent. */
export const percentage = atMost(100, ' (a percentage)');

export const ratePerMinute = wholeNumber.refine(
  (n) => n >= 1 && n <= MAX_RATE_PER_MINUTE,
  `must be 1 to ${MAX_RATE_PER_MINUTE} (Kit’s limit)`,
);

export const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** An http(s) URL; credentials in it would be printed wherever the URL is. */
export const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'must be an http(s) URL (without credentials)');

/** A secret that is a URL path segment or a credential: long enough not to be guessed. */
export const longSecret = z
  .string()
  .min(MIN_BEARER_TOKEN_LENGTH, `must be at least ${MIN_BEARER_TOKEN_LENGTH} characters (openssl rand -hex 32)`);

const secret = z.string().min(1, 'must not be empty');

/** A name for logs and the audit trail: it is printed, so it is kept plain. */
const credentialName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'must be 1-64 letters, digits, _ . @ -');

/**
 * A bearer token (an IdP's, an operator's, a security-events receiver's) too short to be safe from guessing;
 * names the entry and its length, never the token.
 */
function tokenLengthProblem(what: string, token: string, ctx: z.RefinementCtx): void {
  if (token.length < MIN_BEARER_TOKEN_LENGTH)
    ctx.addIssue({
      code: 'custom',
      path: ['token'],
      message: `${what} is ${token.length} characters long; bearer tokens must be at least ${MIN_BEARER_TOKEN_LENGTH} (generate one with: openssl rand -hex 32)`,
    });
}

const bearerToken = z
  .object({ name: credentialName, token: z.string() })
  .strict()
  .superRefine((t, ctx) => tokenLengthProblem(`the token "${t.name}"`, t.token, ctx));

export type BearerTokenSettings = z.output<typeof bearerToken>;

export const bearerTokens = z.array(bearerToken).default([]);

// Symmetric algorithms would let anyone who can read the JWKS mint tokens (src/http/auth/authenticator.ts
// refuses them too; here the configuration is refused before anything runs).
const jwtAlgorithm = z.string().refine((a) => !/^(HS|none$)/i.test(a), 'HS* and none are not allowed');

export const jwtAlgorithms = z.array(jwtAlgorithm).min(1, 'name at least one algorithm');

const jwt = z
  .object({
    jwksUrl: httpUrl,
    issuer: z.string('JWT auth needs an issuer').min(1, 'JWT auth needs an issuer'),
    audience: z.string('JWT auth needs an audience').min(1, 'JWT auth needs an audience'),
    algorithms: jwtAlgorithms.optional(),
    clockSkewSeconds: wholeNumber.optional(),
  })
  .strict();

// ---- Kit

function oauth(ctx: SettingsContext) {
  const n = (field: string) => ctx.names.of(['kit', 'oauth', field]);
  return z
    .object({
      accessToken: secret.optional(),
      refreshToken: secret.optional(),
      clientId: secret.optional(),
      clientSecret: secret.optional(),
      /** A file path, or `redis` (needs REDIS_URL); its default is the source's. */
      tokenStore: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((o, issues) => {
      if (!o.accessToken && !o.refreshToken)
        issues.addIssue({
          code: 'custom',
          path: [],
          message: `OAuth needs ${n('accessToken')} or ${n('refreshToken')}`,
        });
      if (o.refreshToken && !(o.clientId && o.clientSecret))
        issues.addIssue({
          code: 'custom',
          path: ['refreshToken'],
          message: `${n('refreshToken')} needs ${n('clientId')} and ${n('clientSecret')}`,
        });
      if (o.tokenStore === 'redis' && !ctx.redis)
        issues.addIssue({
          code: 'custom',
          path: ['tokenStore'],
          message: `${ctx.names.set(['kit', 'oauth', 'tokenStore'], 'redis')} needs REDIS_URL`,
        });
    });
}

const CREDENTIAL_KINDS = ['apiKey', 'apiSecret', 'oauth'] as const;

function kit(ctx: SettingsContext) {
  const n = (field: string) => ctx.names.of(['kit', field]);
  const v3 = ctx.names.set(['kit', 'apiVersion'], 'v3');
  return z
    .object({
      apiKey: secret.optional(),
      apiSecret: secret.optional(),
      oauth: oauth(ctx).optional(),
      /** The built-in Kit sandbox instead of a Kit account (tenants file). */
      sandbox: flag.optional(),
      apiVersion: z.enum(['v4', 'v3'], 'must be v4 or v3').optional(),
      baseUrl: httpUrl.optional(),
      ratePerMinute: ratePerMinute.optional(),
    })
    .strict()
    .superRefine((k, issues) => {
      const kinds = CREDENTIAL_KINDS.filter((kind) => k[kind] !== undefined);
      if (k.sandbox) {
        for (const kind of kinds)
          issues.addIssue({
            code: 'custom',
            path: [kind],
            message: 'a sandbox tenant has no Kit credential of its own',
          });
        if (k.baseUrl !== undefined)
          issues.addIssue({
            code: 'custom',
            path: ['baseUrl'],
            message: 'a sandbox tenant talks to the built-in sandbox',
          });
        return;
      }
      if (kinds.length > 1)
        issues.addIssue({
          code: 'custom',
          path: [kinds[1]],
          message: `give exactly one Kit credential, not ${kinds.map(n).join(' and ')}`,
        });
      if (k.apiSecret !== undefined && k.apiVersion !== 'v3')
        issues.addIssue({
          code: 'custom',
          path: ['apiSecret'],
          message: `${n('apiSecret')} is the v3 credential: set ${v3} with it, or use ${n('apiKey')} for v4`,
        });
      if (k.apiVersion === 'v3' && (k.apiKey !== undefined || k.oauth !== undefined))
        issues.addIssue({
          code: 'custom',
          path: ['apiVersion'],
          message: `${v3} authenticates with ${n('apiSecret')} only (no ${n('apiKey')} or ${n('oauth')})`,
        });
    });
}

export type KitSettings = z.output<ReturnType<typeof kit>>;

// ---- Security events (RFC 9967 SETs for IGA receivers; docs/security-events.md)

const eventReceiver = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -'),
    token: z.string(),
    /** Defaults to the name. */
    audience: z.string().min(1, 'must not be empty').optional(),
  })
  .strict()
  .superRefine((r, ctx) => tokenLengthProblem(`the token of receiver "${r.name}"`, r.token, ctx));

/** A JSON setting: text is parsed (null when it is not JSON); a value already structured (YAML) is kept. */
export function jsonOf(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

const isJwk = (k: unknown): k is Record<string, unknown> => typeof k === 'object' && k !== null && !Array.isArray(k);

/** A JWK written as YAML, or as JSON text (what the environment and `${VAR}` give). */
const jwkText = z.union([z.record(z.string(), z.unknown()), z.string()]);

function writableDirectory(path: string): boolean {
  try {
    accessSync(path, fsConstants.W_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function events(ctx: SettingsContext) {
  return (
    z
      .object({
        // A tenants file's entry names at least one (tenantsFileSchema.ts); the environment may have none.
        receivers: z.array(eventReceiver).default([]),
        push: z.array(z.object({ receiver: z.string(), url: httpUrl }).strict()).default([]),
        signingKey: jwkText.optional(),
        previousPublicKeys: z.union([z.array(z.record(z.string(), z.unknown())), z.string()]).optional(),
        /** Where a generated key is kept; its default is the source's. */
        keyFile: z.string().min(1).optional(),
        outboxMax: positiveWholeNumber.default(100_000),
        leaseSeconds: positiveWholeNumber.default(30),
        maxWaitSeconds: wholeNumber.refine((n) => n <= 60, 'must be at most 60').default(25),
        deadLetterSeconds: positiveWholeNumber.default(86_400),
        /**
         * Where SETs made while Redis is away wait for it (one append-only file per tenant), on this replica's
         * own disk; unset: they wait in memory and a restart meanwhile loses them.
         */
        spoolDir: z
          .string()
          .min(1)
          .refine(writableDirectory, 'must be an existing directory this process can write to')
          .optional(),
        /** SETs (one per receiver and change) the spool holds at most; past it each one is lost, and told. */
        spoolMax: positiveWholeNumber.default(10_000),
      })
      .strict()
      .superRefine((e, issues) => {
        if (e.receivers.length > 0 && !ctx.publicBaseUrl)
          issues.addIssue({
            code: 'custom',
            path: ['receivers'],
            message: 'security events need PUBLIC_BASE_URL (their issuer, "iss")',
          });
        const names = e.receivers.map((r) => r.name);
        names.forEach((name, i) => {
          if (names.indexOf(name) !== i)
            issues.addIssue({
              code: 'custom',
              path: ['receivers', i, 'name'],
              message: `receiver "${name}" is named twice`,
            });
        });
        e.push.forEach((p, i) => {
          if (!names.includes(p.receiver))
            issues.addIssue({
              code: 'custom',
              path: ['push', i, 'receiver'],
              message: 'is not one of this tenant’s receivers',
            });
        });
      })
      // The keys are read once the receivers are right (a transform runs only on settings without problems).
      .transform((e, issues) => {
        const key = jsonOf(e.signingKey);
        if (key !== undefined && !(isJwk(key) && typeof key.d === 'string'))
          issues.addIssue({
            code: 'custom',
            path: ['signingKey'],
            message: 'must be a private JWK (JSON with "kty" and "d")',
          });
        const previous = jsonOf(e.previousPublicKeys) ?? [];
        const publicKeys = Array.isArray(previous) && previous.every((k) => isJwk(k) && !('d' in k));
        if (!publicKeys)
          issues.addIssue({
            code: 'custom',
            path: ['previousPublicKeys'],
            message: 'must be a list of public JWKs (no "d")',
          });
        return {
          ...e,
          signingKey: isJwk(key) ? key : undefined,
          previousPublicKeys: publicKeys ? (previous as Record<string, unknown>[]) : [],
        };
      })
  );
}

export type EventsSettings = z.output<ReturnType<typeof events>>;

// ---- A tenant

/** The fields of a tenant's settings; a tenants file entry adds its `id`. */
export function tenantSettingsFields(ctx: SettingsContext) {
  return {
    kit: kit(ctx),
    groupTagPrefix: z.string().min(1).optional(),
    /** Relative to the tenants file's directory, or to the working directory (environment). */
    mappingFile: z.string().min(1).optional(),
    /** What a write does with an RFC 7643 User attribute the mapping gives no home in Kit. */
    unmappedAttributes: z.enum(['ignore', 'refuse'], 'must be ignore or refuse').optional(),
    bearerTokens,
    readOnlyBearerTokens: bearerTokens,
    jwt: jwt.optional(),
    events: events(ctx).optional(),
  };
}

/** The rules that span a tenant's fields. */
export function checkTenantSettings(
  t: { bearerTokens: BearerTokenSettings[]; readOnlyBearerTokens: BearerTokenSettings[] },
  ctx: z.RefinementCtx,
): void {
  const names = [...t.bearerTokens, ...t.readOnlyBearerTokens].map((b) => b.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) === i) return;
    const list = i < t.bearerTokens.length ? 'bearerTokens' : 'readOnlyBearerTokens';
    const index = i < t.bearerTokens.length ? i : i - t.bearerTokens.length;
    ctx.addIssue({
      code: 'custom',
      path: [list, index, 'name'],
      message: `the token name "${name}" is used twice (names tell tokens apart in the audit trail)`,
    });
  });
}

export function tenantSettingsSchema(ctx: SettingsContext) {
  return z.object(tenantSettingsFields(ctx)).strict().superRefine(checkTenantSettings);
}

export type TenantSettings = z.output<ReturnType<typeof tenantSettingsSchema>>;
