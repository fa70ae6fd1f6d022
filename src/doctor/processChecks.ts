import { randomBytes } from 'node:crypto';
import axios from 'axios';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { RedisLink } from '../platform/redisLink';
import { type Add, explain, type Waiting } from './checks';
import type { DoctorParts, SlotTarget } from './parts';

// The checks of the whole process, made once whatever the tenants: Redis and its shared limiter, the public
// URL, and the SCIM round-trip against the running server (once per tenant, at that tenant's path).

export async function checkRedis(
  parts: Pick<DoctorParts, 'slotBook'>,
  base: Config,
  link: RedisLink | undefined,
  target: SlotTarget | undefined,
  waiting: Waiting,
  clock: Clock,
  add: Add,
): Promise<void> {
  if (!base.redisUrl || !link) return add('redis', 'skip', 'REDIS_URL not set: one replica, limiter in process');
  if (!link.healthy)
    return add(
      'redis',
      'fail',
      `Redis at ${redisHost(base.redisUrl)} does not answer: ${link.detail}`,
      'Start Redis or fix REDIS_URL (host, port, password, rediss:// for TLS); replicas fall back to budget/' +
        `${base.limiter.fallbackReplicas} each while it is down.`,
    );
  // Only with a tenants file of sandbox tenants (or of tenants whose configuration failed): nothing to book for.
  if (!target)
    return add('redis', 'pass', `Redis at ${redisHost(base.redisUrl)} answers; no Kit credential to book a slot for`);
  const book = parts.slotBook(link, target, base, clock);
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
      `Redis at ${redisHost(base.redisUrl)} answers; booked a slot in the shared limiter (it came after ${Math.round(delay)} ms)`,
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

/** PUBLIC_BASE_URL, as the IdPs would reach it. */
export async function checkPublicUrl(
  publicUrl: string | undefined,
  waiting: Waiting,
  timeoutMs: number | undefined,
  add: Add,
): Promise<void> {
  if (!publicUrl) return add('publicUrl', 'skip', 'PUBLIC_BASE_URL not set');
  const outcome = await waiting(`reaching ${publicUrl}`, () => httpGet(`${publicUrl}/healthz`, undefined, timeoutMs));
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

/**
 * The SCIM base of a tenant at the server `url` (its root, or any SCIM base of it): `/scim/v2` without a tenants
 * file, `/tenants/{id}/scim/v2` with one (the bare `/scim/v2` answers only while a single tenant is configured).
 */
export function scimBaseOf(url: string, tenant?: string): string {
  const root = url.replace(/\/+$/, '').replace(/\/scim\/v2$/i, '');
  if (tenant === undefined) return `${root}/scim/v2`;
  return `${root.replace(/\/tenants\/[^/]+$/, '')}/tenants/${encodeURIComponent(tenant)}/scim/v2`;
}

export async function scimRoundTrip(
  base: string,
  token: string,
  waiting: Waiting,
  timeoutMs: number | undefined,
  add: Add,
): Promise<void> {
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
  /** The JSON answer, as far as the checks read it. */
  data?: { status?: unknown; totalResults?: unknown; detail?: unknown };
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
export function redisHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
