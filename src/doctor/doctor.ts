import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { type Clock, systemClock, type TimerHandle } from '../clock';
import { type Config, ConfigError, loadConfig, secretsOf } from '../config';
import { maskSecrets } from '../http/logging';
import { KitClient } from '../kit/client';
import { findField } from '../kit/resources/customFields';
import { KitAuthError, KitError, KitUnavailableError } from '../kit/errors';
import { createKitLimiter, type KitLimiter, limiterIdFor } from '../kit/limiter';
import { RedisTokenStore } from '../kit/redisTokenStore';
import { SharedSlotBook, sharedSlots } from '../kit/slots';
import { FileTokenStore } from '../kit/tokenStore';
import type { Tag } from '../kit/types';
import { RedisLink } from '../redis/redisLink';
import { SubscriberFieldMap } from '../scim/fieldMap';
import { DELETED_USERS_TAG, RESERVED_TAG_PREFIX } from '../scim/groups/tagCatalog';

// `convertkit-scim doctor`: what an operator checks before go-live, in the order a failure blocks the next.
// It reads the same environment through the same loader as the server, and talks to Kit through the same
// client behind the same limiter (the shared one in Redis when REDIS_URL is set), so it spends the credential's
// budget as a replica would: about four Kit calls, plus one per reserved field or tag it has to create.

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: CheckId;
  check: string;
  status: CheckStatus;
  result: string;
  /** What to do: the fix for a failure, advice for a pass worth a second look. */
  fix?: string;
}

export const CHECKS = {
  config: 'configuration valid',
  kitReachable: 'Kit reachable',
  kitCredential: 'Kit credential accepted',
  tokenStore: 'OAuth token store writable',
  reservedFields: 'reserved custom fields',
  reservedTags: 'reserved tags',
  groupPrefix: 'GROUP_TAG_PREFIX vs existing tags',
  redis: 'Redis and the shared limiter',
  publicUrl: 'PUBLIC_BASE_URL reachable',
  scimRoundTrip: 'SCIM round-trip (dry run)',
} as const;
export type CheckId = keyof typeof CHECKS;

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

export interface DoctorOptions {
  /** The running server (its root or its /scim/v2 URL) for the dry-run round-trip. */
  url?: string;
  /** A SCIM bearer token for the round-trip; default: a configured read-only token, else the first one. */
  token?: string;
  /** Tags under GROUP_TAG_PREFIX are this server's own groups (a re-run after go-live), not a clash. */
  existingGroupsOk?: boolean;
  clock?: Clock;
  /** Called while a check waits (for the limiter, Redis, a URL), about once a second. */
  progress?: (message: string) => void;
  /** Called as each check finishes, for live output. */
  onResult?: (result: CheckResult) => void;
  /** How long to wait for Redis to answer before calling it down. */
  redisWaitMs?: number;
  httpTimeoutMs?: number;
}

// An operator is waiting on every call: interactive, ahead of replicas' background pulls.
const DOCTOR_CALL = { priority: 'interactive' as const };

export async function runDoctor(
  env: Record<string, string | undefined>,
  opts: DoctorOptions = {},
): Promise<DoctorReport> {
  const clock = opts.clock ?? systemClock;
  const checks: CheckResult[] = [];
  let secrets: string[] = opts.token ? [opts.token] : [];
  const add = (id: CheckId, status: CheckStatus, result: string, fix?: string) => {
    const entry: CheckResult = {
      id,
      check: CHECKS[id],
      status,
      result: maskSecrets(result, secrets),
      ...(fix ? { fix: maskSecrets(fix, secrets) } : {}),
    };
    checks.push(entry);
    opts.onResult?.(entry);
  };
  const skipRest = (reason: string) => {
    for (const id of Object.keys(CHECKS) as CheckId[]) {
      if (!checks.some((c) => c.id === id)) add(id, 'skip', reason);
    }
  };
  const report = (): DoctorReport => ({ ok: checks.every((c) => c.status !== 'fail'), checks });

  // 1. Configuration, by the server's own loader.
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    add(
      'config',
      'fail',
      err.problems.join('; '),
      'Fix the variables named (see README "Configuration"); values are never shown.',
    );
    skipRest('not run: the configuration is invalid');
    return report();
  }
  secrets = [...secrets, ...secretsOf(config)];
  const credentials = config.kit.credentials;
  if (!credentials) {
    add(
      'config',
      'fail',
      'no Kit credentials: the server would start the built-in Kit sandbox, not talk to Kit',
      'Set KIT_API_KEY (Kit → Settings → Developer → API keys, v4) or the KIT_ACCESS_TOKEN/KIT_REFRESH_TOKEN/KIT_CLIENT_ID/KIT_CLIENT_SECRET set.',
    );
    skipRest('not run: no Kit credentials');
    return report();
  }
  if (credentials.kind === 'v3Secret') {
    // Its checks speak Kit v4; a v4 call with a v3 secret would report the secret as refused, which is false.
    add(
      'config',
      'fail',
      'doctor does not check Kit v3 accounts yet (KIT_API_VERSION=v3)',
      'Start the server and watch /readyz: it turns green once Kit v3 accepts the secret and the reserved fields and tags exist.',
    );
    skipRest('not run: Kit v3');
    return report();
  }
  if (config.scim.bearerTokens.length === 0 && !config.scim.jwt) {
    add(
      'config',
      'fail',
      'no way for the IdP to authenticate: neither SCIM_BEARER_TOKENS nor SCIM_JWT_JWKS_URL is set',
      'Set SCIM_BEARER_TOKENS="okta=$(openssl rand -hex 32)" (or the SCIM_JWT_* variables).',
    );
    skipRest('not run: the configuration is incomplete');
    return report();
  }
  add(
    'config',
    'pass',
    `valid; Kit ${config.kit.baseUrl} with ${credentials.kind === 'apiKey' ? 'an API key' : 'OAuth'}, ` +
      `${config.scim.bearerTokens.length} SCIM token(s)${config.scim.jwt ? ' and JWTs' : ''}, ` +
      `budget ${config.kit.ratePerMinute} calls per ${config.kit.rateWindowMs / 1000} s`,
  );

  const waiting = progressReporter(clock, opts.progress);
  const limiterId = limiterIdFor(config.kit.baseUrl, credentials);
  let link: RedisLink | undefined;
  let limiter: KitLimiter | undefined;
  try {
    if (config.redisUrl) {
      link = new RedisLink({
        url: config.redisUrl,
        commandTimeoutMs: config.redis.commandTimeoutMs,
        probeIntervalMs: config.redis.probeIntervalMs,
        clock,
      });
      await waiting(`connecting to Redis at ${redisHost(config.redisUrl)}`, () =>
        until(() => link!.healthy, opts.redisWaitMs ?? 3000, clock),
      );
    }
    // The doctor's own Kit calls book from the shared book like a replica; with Redis down, from a local one
    // (the Redis check below names that failure; the Kit checks should not fail for it too).
    limiter = createKitLimiter({
      id: limiterId,
      budget: config.kit.ratePerMinute,
      windowMs: config.kit.rateWindowMs,
      clock,
      slots:
        link?.healthy === true
          ? sharedSlots(link, {
              id: limiterId,
              windowMs: config.kit.rateWindowMs,
              fallbackReplicas: Math.max(1, config.limiter.fallbackReplicas),
              keyTtlMs: config.limiter.keyTtlMs,
            })
          : undefined,
    });
    const kit = new KitClient({
      baseUrl: config.kit.baseUrl,
      credentials,
      limiter,
      timeoutMs: config.kit.timeoutMs,
      tokenStore:
        credentials.kind === 'oauth' && credentials.tokenStorePath === 'redis' && link
          ? new RedisTokenStore(link, { id: limiterIdFor(config.kit.baseUrl, credentials, 'oauth'), clock })
          : credentials.kind === 'oauth' && credentials.tokenStorePath
            ? new FileTokenStore(credentials.tokenStorePath)
            : undefined,
    });
    const kitCall = <T>(what: string, fn: () => Promise<T>) => waiting(`${what}: waiting for a Kit call slot`, fn);

    // 2 + 3. Kit reachable, credential accepted: one call answers both.
    let kitOk = false;
    try {
      const account = await kitCall('Kit account', () => kit.account(DOCTOR_CALL));
      add('kitReachable', 'pass', `${config.kit.baseUrl} answered`);
      add('kitCredential', 'pass', `accepted for the Kit account "${account.account?.name ?? '(unnamed)'}"`);
      kitOk = true;
    } catch (err) {
      if (err instanceof KitAuthError) {
        add('kitReachable', 'pass', `${config.kit.baseUrl} answered (HTTP ${err.status ?? 401})`);
        add(
          'kitCredential',
          'fail',
          `Kit rejected the credential (HTTP ${err.status ?? 401})`,
          credentials.kind === 'apiKey'
            ? 'Use a v4 API key (Kit → Settings → Developer): v3 keys and secrets are refused; check it was copied whole.'
            : 'Refresh the OAuth tokens (a rotated refresh token is single-use); check KIT_CLIENT_ID/SECRET and KIT_TOKEN_STORE.',
        );
      } else {
        add(
          'kitReachable',
          'fail',
          `no usable answer from ${config.kit.baseUrl}: ${explain(err)}`,
          'Check KIT_API_URL, DNS and that outbound HTTPS to it is allowed (proxy, firewall); retry if Kit reports an outage.',
        );
        add('kitCredential', 'skip', 'not run: Kit did not answer');
      }
    }

    // 4. OAuth token store.
    if (credentials.kind !== 'oauth') add('tokenStore', 'skip', 'not used: an API key');
    else checkTokenStore(credentials.tokenStorePath, link, add);

    // 5. Reserved custom fields and tags, created as the server's start-up would.
    let tags: Tag[] | undefined;
    if (!kitOk) {
      add('reservedFields', 'skip', 'not run: Kit is not usable');
      add('reservedTags', 'skip', 'not run: Kit is not usable');
      add('groupPrefix', 'skip', 'not run: Kit is not usable');
    } else {
      await checkReservedFields(kit, kitCall, add, SubscriberFieldMap.labels(config.scim.mapping));
      try {
        tags = await kitCall('tags', () => kit.tags.list(DOCTOR_CALL));
        const present = tags.some((t) => t.name === DELETED_USERS_TAG);
        if (present) add('reservedTags', 'pass', `"${DELETED_USERS_TAG}" present`);
        else {
          try {
            await kitCall('creating a tag', () => kit.tags.create(DELETED_USERS_TAG, DOCTOR_CALL));
            add('reservedTags', 'pass', `"${DELETED_USERS_TAG}" was missing and is now created`);
          } catch (err) {
            add(
              'reservedTags',
              'fail',
              `"${DELETED_USERS_TAG}" is missing and could not be created: ${explain(err)}`,
              `Create the tag "${DELETED_USERS_TAG}" in Kit (Grow → Subscribers → Tags), or use a key allowed to create tags.`,
            );
          }
        }
      } catch (err) {
        add('reservedTags', 'fail', `could not list tags: ${explain(err)}`, 'See the Kit checks above; retry.');
      }
      // 6. The group prefix against the tags the account already has.
      if (tags) checkGroupPrefix(config.scim.groupTagPrefix, tags, Boolean(opts.existingGroupsOk), add);
      else add('groupPrefix', 'skip', 'not run: tags could not be listed');
    }

    // 7. Redis, and one slot booked through the shared limiter.
    if (!config.redisUrl || !link) add('redis', 'skip', 'REDIS_URL not set: one replica, limiter in process');
    else if (!link.healthy) {
      add(
        'redis',
        'fail',
        `Redis at ${redisHost(config.redisUrl)} does not answer: ${link.detail}`,
        'Start Redis or fix REDIS_URL (host, port, password, rediss:// for TLS); replicas fall back to budget/' +
          `${config.limiter.fallbackReplicas} each while it is down.`,
      );
    } else {
      const book = new SharedSlotBook({
        link,
        id: limiterId,
        spacingMs: limiter.spacingMs,
        windowMs: config.kit.rateWindowMs,
        clock,
        fallbackReplicas: 0,
        keyTtlMs: config.limiter.keyTtlMs,
      });
      try {
        const delay = await waiting('booking a slot in the shared limiter', async () => {
          const ms = await book.book();
          // Wait for the slot like a Kit call would: the progress shows how busy the shared budget is.
          await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
          return ms;
        });
        add(
          'redis',
          book.shared ? 'pass' : 'fail',
          `Redis at ${redisHost(config.redisUrl)} answers; booked a slot in the shared limiter (it came after ${Math.round(delay)} ms)`,
        );
      } catch (err) {
        add(
          'redis',
          'fail',
          `Redis answers but the shared limiter could not book a slot: ${explain(err)}`,
          'Redis must allow EVAL/EVALSHA (Lua scripts) and the TIME command; managed Redis with scripting disabled cannot share the limiter.',
        );
      }
    }

    // 8. PUBLIC_BASE_URL, as the IdPs would reach it.
    const publicUrl = config.publicUrls.baseUrl;
    if (!publicUrl) add('publicUrl', 'skip', 'PUBLIC_BASE_URL not set');
    else {
      const outcome = await waiting(`reaching ${publicUrl}`, () =>
        httpGet(`${publicUrl}/healthz`, undefined, opts.httpTimeoutMs),
      );
      if (outcome.status === 200 && outcome.data?.status === 'ok')
        add('publicUrl', 'pass', `${publicUrl}/healthz answered 200`);
      else
        add(
          'publicUrl',
          'fail',
          `${publicUrl}/healthz: ${outcome.error ?? `HTTP ${outcome.status}`}`,
          'PUBLIC_BASE_URL must be the URL IdPs use: check DNS, the TLS certificate and that the load balancer routes /healthz to this server.',
        );
    }

    // 9. A SCIM round-trip against the running server that changes nothing.
    if (!opts.url) add('scimRoundTrip', 'skip', 'give --url (and --token) to try the running server');
    else {
      const token =
        opts.token ?? config.scim.bearerTokens.find((t) => t.readOnly)?.token ?? config.scim.bearerTokens[0]?.token;
      if (!token)
        add(
          'scimRoundTrip',
          'fail',
          'no bearer token to call the server with',
          'Pass --token (or SCIM_DOCTOR_TOKEN) with a token the server accepts.',
        );
      else await scimRoundTrip(opts.url, token, waiting, opts.httpTimeoutMs, add);
    }
    return report();
  } finally {
    await limiter?.stop();
    await link?.close();
  }
}

type Add = (id: CheckId, status: CheckStatus, result: string, fix?: string) => void;
type Waiting = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

async function checkReservedFields(
  kit: KitClient,
  kitCall: Waiting,
  add: Add,
  labels: readonly string[] = SubscriberFieldMap.labels(),
): Promise<void> {
  let existing;
  try {
    existing = await kitCall('custom fields', () => kit.customFields.list(DOCTOR_CALL));
  } catch (err) {
    add('reservedFields', 'fail', `could not list custom fields: ${explain(err)}`, 'See the Kit checks above; retry.');
    return;
  }
  const missing = labels.filter((l) => !findField(existing, l));
  const created: string[] = [];
  const failed: string[] = [];
  let reason = '';
  for (const label of missing) {
    try {
      await kitCall(`creating the custom field ${label}`, () => kit.customFields.create(label, DOCTOR_CALL));
      created.push(label);
    } catch (err) {
      failed.push(label);
      reason ||= explain(err);
    }
  }
  if (failed.length > 0) {
    add(
      'reservedFields',
      'fail',
      `missing and could not be created: ${failed.join(', ')} (Kit: ${reason})`,
      `Create these custom fields in Kit by hand (Grow → Subscribers → Custom fields), with exactly these labels, or use a key allowed to create fields; without them Kit would silently drop the values.`,
    );
  } else if (created.length > 0) {
    add(
      'reservedFields',
      'pass',
      `${labels.length - created.length} of ${labels.length} present; created the missing ${created.join(', ')} (as the server's start-up would)`,
    );
  } else add('reservedFields', 'pass', `all ${labels.length} present (${labels.join(', ')})`);
}

const MAX_NAMED = 5;

function checkGroupPrefix(prefix: string | undefined, tags: Tag[], existingOk: boolean, add: Add): void {
  const reserved = (t: Tag) => t.name.toLowerCase().startsWith(RESERVED_TAG_PREFIX);
  if (prefix === undefined) {
    const groups = tags.filter((t) => !reserved(t));
    add(
      'groupPrefix',
      'pass',
      `no GROUP_TAG_PREFIX: every tag outside "${RESERVED_TAG_PREFIX}" is a SCIM group (${groups.length} today)`,
      groups.length > 0
        ? 'If these are marketing tags, set GROUP_TAG_PREFIX (e.g. "idp:") so the IdP sees only its own groups.'
        : undefined,
    );
    return;
  }
  if (prefix.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
    add(
      'groupPrefix',
      'fail',
      `GROUP_TAG_PREFIX "${prefix}" is inside the server's reserved "${RESERVED_TAG_PREFIX}" names: no group could ever be seen`,
      'Choose a prefix that does not start with "scim:", e.g. "idp:".',
    );
    return;
  }
  const clashing = tags.filter((t) => t.name.startsWith(prefix) && !reserved(t));
  if (clashing.length === 0) {
    add('groupPrefix', 'pass', `no existing tag starts with "${prefix}"`);
  } else if (existingOk) {
    add('groupPrefix', 'pass', `${clashing.length} tag(s) start with "${prefix}"; accepted as this server's groups`);
  } else {
    const named = clashing.slice(0, MAX_NAMED).map((t) => `"${t.name}"`);
    const more = clashing.length > MAX_NAMED ? ` and ${clashing.length - MAX_NAMED} more` : '';
    add(
      'groupPrefix',
      'fail',
      `${clashing.length} existing tag(s) already start with "${prefix}" and would appear in the IdP as groups: ${named.join(', ')}${more}`,
      `Choose a GROUP_TAG_PREFIX no existing tag uses, or rename those tags in Kit; if this server made them (a re-run after go-live), run doctor with --existing-groups.`,
    );
  }
}

function checkTokenStore(storePath: string | undefined, link: RedisLink | undefined, add: Add): void {
  if (!storePath) {
    add('tokenStore', 'fail', 'no KIT_TOKEN_STORE', 'Set KIT_TOKEN_STORE to a path every replica shares, or to redis.');
    return;
  }
  if (storePath === 'redis') {
    if (link?.healthy) add('tokenStore', 'pass', 'kept in Redis, which answers');
    else add('tokenStore', 'fail', 'kept in Redis, which does not answer', 'See the Redis check below.');
    return;
  }
  const resolved = path.resolve(storePath);
  try {
    // Opening for append creates nothing new and changes nothing in an existing file; a missing file needs a
    // writable directory instead.
    if (fs.existsSync(resolved)) fs.closeSync(fs.openSync(resolved, 'a'));
    else fs.accessSync(path.dirname(resolved), fs.constants.W_OK);
    add('tokenStore', 'pass', `${resolved} is writable`);
  } catch (err) {
    add(
      'tokenStore',
      'fail',
      `${resolved} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'Make the file (or its directory) writable by the server user; rotated refresh tokens are lost otherwise and the next restart cannot authenticate.',
    );
  }
}

async function scimRoundTrip(
  url: string,
  token: string,
  waiting: Waiting,
  timeoutMs: number | undefined,
  add: Add,
): Promise<void> {
  const base = `${url.replace(/\/+$/, '').replace(/\/scim\/v2$/i, '')}/scim/v2`;
  const spc = await waiting(`calling ${base}`, () => httpGet(`${base}/ServiceProviderConfig`, token, timeoutMs));
  if (spc.status !== 200 || !JSON.stringify(spc.data ?? '').includes('ServiceProviderConfig')) {
    add(
      'scimRoundTrip',
      'fail',
      `GET ${base}/ServiceProviderConfig: ${spc.error ?? `HTTP ${spc.status}`}`,
      roundTripFix(spc.status),
    );
    return;
  }
  // A userName no one has: a lookup an IdP makes before every create, costing one Kit call and changing nothing.
  const probe = `doctor-${randomBytes(6).toString('hex')}@doctor.invalid`;
  const lookup = await waiting('a userName lookup', () =>
    httpGet(`${base}/Users?filter=${encodeURIComponent(`userName eq "${probe}"`)}&count=1`, token, timeoutMs),
  );
  if (lookup.status !== 200 || lookup.data?.totalResults !== 0) {
    add(
      'scimRoundTrip',
      'fail',
      `GET ${base}/Users?filter=userName eq "…": ${lookup.error ?? `HTTP ${lookup.status}`}${lookup.data?.detail ? ` (${lookup.data.detail})` : ''}`,
      roundTripFix(lookup.status),
    );
    return;
  }
  add('scimRoundTrip', 'pass', `${base}: ServiceProviderConfig and a userName lookup answered 200; nothing changed`);
}

function roundTripFix(status: number | undefined): string {
  if (status === 401) return 'The server refused the token: use one from SCIM_BEARER_TOKENS (or --token).';
  if (status === 403) return 'Refused by SCIM_IP_ALLOWLIST: run doctor from an allowed address.';
  if (status === 503) return 'The server is not ready: see its /readyz and the checks above.';
  return 'Check --url (the server root or …/scim/v2) and that the server is running.';
}

interface HttpOutcome {
  status?: number;
  data?: any;
  error?: string;
}

async function httpGet(url: string, token: string | undefined, timeoutMs = 5000): Promise<HttpOutcome> {
  try {
    const res = await axios.get(url, {
      timeout: timeoutMs,
      maxRedirects: 0,
      validateStatus: () => true,
      headers: token ? { Authorization: `Bearer ${token}`, Accept: 'application/scim+json' } : {},
    });
    return { status: res.status, data: res.data };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** Host and port of a Redis URL: never its password. */
function redisHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

function explain(err: unknown): string {
  if (err instanceof KitError) {
    const status = err.status === undefined ? '' : `HTTP ${err.status}: `;
    return `${status}${err instanceof KitUnavailableError || err instanceof KitAuthError ? err.message : err.kitMessage || err.message}`;
  }
  return (err as Error).message;
}

/** Resolves once `ready()` holds or `ms` have passed, polling on the clock. */
function until(ready: () => boolean, ms: number, clock: Clock): Promise<void> {
  const deadline = clock.now() + ms;
  return new Promise((resolve) => {
    const poll = () => {
      if (ready() || clock.now() >= deadline) resolve();
      else clock.setTimeout(poll, 50);
    };
    poll();
  });
}

/**
 * Runs `fn`, reporting "<what> (N s)" about once a second while it has not finished after the first second:
 * a doctor waiting on a busy shared limiter must not look hung.
 */
function progressReporter(clock: Clock, progress?: (message: string) => void): Waiting {
  return async (what, fn) => {
    if (!progress) return fn();
    const started = clock.now();
    let timer: TimerHandle | undefined;
    const tick = () => {
      progress(`${what} (${Math.round((clock.now() - started) / 1000)} s)`);
      timer = clock.setTimeout(tick, 1000, { background: true });
    };
    timer = clock.setTimeout(tick, 1000, { background: true });
    try {
      return await fn();
    } finally {
      clock.clearTimeout(timer);
    }
  };
}
