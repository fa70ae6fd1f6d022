import { z } from 'zod';
import { MIN_BEARER_TOKEN_LENGTH } from '../environment';
import { TENANT_ID_PATTERN } from './model';

// The shape of a tenants file, version 1 (tenants.example.yaml documents it). Only what one entry can tell on
// its own is checked here; what needs several entries (unique ids and tokens, shared Kit budgets) or the disk
// (mapping files) is in tenantRules.ts and tenantConfig.ts. Every object is strict: a misspelt key is a
// problem, never a setting silently ignored. No message quotes a value: after ${VAR} interpolation any string
// may be a secret.

/** A value given directly, or through `${VAR}` (which always yields a string). */
const wholeNumber = z.union([
  z.number().int('must be a whole number'),
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number),
]);

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'must be an http(s) URL (without credentials)');

/** A name for logs and the audit trail: it is printed, so it is kept plain. */
const credentialName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'must be 1-64 letters, digits, _ . @ -');

const secret = z.string().min(1, 'must not be empty');

const bearerToken = z
  .object({ name: credentialName, token: z.string() })
  .strict()
  .superRefine((t, ctx) => {
    // Names the entry and its length, never the token (as config.ts does for SCIM_BEARER_TOKENS).
    if (t.token.length < MIN_BEARER_TOKEN_LENGTH)
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: `the token "${t.name}" is ${t.token.length} characters long; bearer tokens must be at least ${MIN_BEARER_TOKEN_LENGTH} (generate one with: openssl rand -hex 32)`,
      });
  });

export type FileBearerToken = z.infer<typeof bearerToken>;

const oauth = z
  .object({
    accessToken: secret.optional(),
    refreshToken: secret.optional(),
    clientId: secret.optional(),
    clientSecret: secret.optional(),
    /** A file path, or `redis` (needs REDIS_URL); default `.kit-tokens-<id>.json`. */
    tokenStore: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!o.accessToken && !o.refreshToken)
      ctx.addIssue({ code: 'custom', path: [], message: 'OAuth needs accessToken or refreshToken' });
    if (o.refreshToken && !(o.clientId && o.clientSecret))
      ctx.addIssue({ code: 'custom', path: ['refreshToken'], message: 'refreshToken needs clientId and clientSecret' });
  });

export const MAX_RATE_PER_MINUTE = 120;

const kit = z
  .object({
    apiKey: secret.optional(),
    apiSecret: secret.optional(),
    oauth: oauth.optional(),
    sandbox: flag.optional(),
    apiVersion: z.enum(['v4', 'v3'], 'must be v4 or v3').optional(),
    baseUrl: httpUrl.optional(),
    ratePerMinute: wholeNumber
      .refine((n) => n >= 1 && n <= MAX_RATE_PER_MINUTE, `must be 1 to ${MAX_RATE_PER_MINUTE} (Kit’s limit)`)
      .optional(),
  })
  .strict()
  .superRefine((k, ctx) => {
    const kinds = (['apiKey', 'apiSecret', 'oauth'] as const).filter((n) => k[n] !== undefined);
    if (k.sandbox) {
      for (const n of kinds)
        ctx.addIssue({ code: 'custom', path: [n], message: 'a sandbox tenant has no Kit credential of its own' });
      if (k.baseUrl !== undefined)
        ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'a sandbox tenant talks to the built-in sandbox' });
      return;
    }
    if (kinds.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'needs one Kit credential: apiKey, oauth, apiSecret (with apiVersion: v3), or sandbox: true',
      });
    if (kinds.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: [kinds[1]],
        message: `give exactly one Kit credential, not ${kinds.join(' and ')}`,
      });
    if (k.apiSecret !== undefined && k.apiVersion !== 'v3')
      ctx.addIssue({
        code: 'custom',
        path: ['apiSecret'],
        message: 'apiSecret is the v3 credential: set apiVersion: v3 with it, or use apiKey for v4',
      });
    if (k.apiVersion === 'v3' && (k.apiKey !== undefined || k.oauth !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['apiVersion'],
        message: 'apiVersion: v3 authenticates with apiSecret only (no apiKey or oauth)',
      });
  });

export type FileKit = z.infer<typeof kit>;

// Symmetric algorithms would let anyone who can read the JWKS mint tokens (src/http/auth/authenticator.ts
// refuses them too; here a reload is refused before anything changes).
const jwtAlgorithm = z.string().refine((a) => !/^(HS|none$)/i.test(a), 'HS* and none are not allowed');

const jwt = z
  .object({
    jwksUrl: httpUrl,
    issuer: z.string().min(1),
    audience: z.string().min(1),
    algorithms: z.array(jwtAlgorithm).min(1).optional(),
    clockSkewSeconds: wholeNumber.optional(),
  })
  .strict();

const eventReceiver = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -'),
    token: z.string(),
    audience: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.token.length < MIN_BEARER_TOKEN_LENGTH)
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: `the token of receiver "${r.name}" is ${r.token.length} characters long; tokens must be at least ${MIN_BEARER_TOKEN_LENGTH}`,
      });
  });

/** A JWK written as YAML, or a JSON string (what `${VAR}` yields). */
const jsonObject = z.union([z.record(z.string(), z.unknown()), z.string()]);

/** The SCIM_EVENTS_* settings of one tenant (README "Security events"), defaults as there. */
const events = z
  .object({
    receivers: z.array(eventReceiver).min(1, 'name at least one receiver'),
    push: z.array(z.object({ receiver: z.string(), url: httpUrl }).strict()).default([]),
    signingKey: jsonObject.optional(),
    previousPublicKeys: z.union([z.array(z.record(z.string(), z.unknown())), z.string()]).optional(),
    keyFile: z.string().min(1).optional(),
    outboxMax: wholeNumber.refine((n) => n > 0, 'must be greater than 0').default(100_000),
    leaseSeconds: wholeNumber.refine((n) => n > 0, 'must be greater than 0').default(30),
    maxWaitSeconds: wholeNumber.refine((n) => n <= 60, 'must be at most 60').default(25),
    deadLetterSeconds: wholeNumber.refine((n) => n > 0, 'must be greater than 0').default(86_400),
  })
  .strict()
  .superRefine((e, ctx) => {
    const names = e.receivers.map((r) => r.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i)
        ctx.addIssue({ code: 'custom', path: ['receivers', i, 'name'], message: `receiver "${n}" is named twice` });
    });
    e.push.forEach((p, i) => {
      if (!names.includes(p.receiver))
        ctx.addIssue({
          code: 'custom',
          path: ['push', i, 'receiver'],
          message: 'is not one of this tenant’s receivers',
        });
    });
  });

export type FileEvents = z.infer<typeof events>;

const tenant = z
  .object({
    id: z
      .string()
      .regex(TENANT_ID_PATTERN, 'must be 1-63 lower-case letters, digits or -, starting with a letter or digit'),
    kit,
    groupTagPrefix: z.string().min(1).optional(),
    /** Relative to the tenants file's directory. */
    mappingFile: z.string().min(1).optional(),
    bearerTokens: z.array(bearerToken).default([]),
    readOnlyBearerTokens: z.array(bearerToken).default([]),
    jwt: jwt.optional(),
    events: events.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    // A tenant nobody can reach is a mistake; the sandbox is the exception (main.ts prints a development token).
    if (!t.kit.sandbox && t.bearerTokens.length + t.readOnlyBearerTokens.length === 0 && !t.jwt)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'needs an inbound credential: bearerTokens, readOnlyBearerTokens or jwt',
      });
    const names = [...t.bearerTokens, ...t.readOnlyBearerTokens].map((b) => b.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) {
        const list = i < t.bearerTokens.length ? 'bearerTokens' : 'readOnlyBearerTokens';
        const index = i < t.bearerTokens.length ? i : i - t.bearerTokens.length;
        ctx.addIssue({
          code: 'custom',
          path: [list, index, 'name'],
          message: `the token name "${n}" is used twice (names tell tokens apart in the audit trail)`,
        });
      }
    });
  });

export type FileTenant = z.infer<typeof tenant>;

export const tenantsFileSchema = z
  .object({
    version: z.literal(1, 'must be 1'),
    operators: z
      .object({ bearerTokens: z.array(bearerToken).default([]) })
      .strict()
      .optional(),
    tenants: z.array(tenant, 'must be a list of tenants').min(1, 'name at least one tenant'),
  })
  .strict();

export type TenantsFile = z.infer<typeof tenantsFileSchema>;
