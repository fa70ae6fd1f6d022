import { randomBytes } from 'node:crypto';
import axios from 'axios';
import type { Clock } from '../platform/clock';
import type { Config } from '../config/environment';
import type { RedisLink } from '../platform/redisLink';
import { describeTopology } from '../platform/redisTopology';
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
  if (!base.redisTopology || !link)
    return add(
      'redis',
      'skip',
      'no REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES: one replica, limiter in process',
    );
  const where = describeTopology(base.redisTopology);
  if (!link.healthy)
    return add(
      'redis',
      'fail',
      `Redis at ${where} does not answer: ${link.detail}`,
      'Start Redis or fix REDIS_URL / REDIS_SENTINELS / REDIS_CLUSTER_NODES (host, port, REDIS_USERNAME/REDIS_PASSWORD, ' +
        `TLS); replicas fall back to budget/${base.limiter.fallbackReplicas} each while it is down.`,
    );
  if (link.confirmsReplication) await checkRedisTopology(link, add);
  // Only with a tenants file of sandbox tenants (or of tenants whose configuration failed): nothing to book for.
  if (!target) return add('redis', 'pass', `Redis at ${where} answers; no Kit credential to book a slot for`);
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
      `Redis at ${where} answers; booked a slot in the shared limiter (it came after ${Math.round(delay)} ms)`,
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

/**
 * Before go-live, a topology that is meant to fail over must be able to: a sentinel primary with no replica, or a
 * cluster shard with none, loses everything on the first failure, and a cluster not in state ok refuses scripts.
 */
export async function checkRedisTopology(link: RedisLink, add: Add): Promise<void> {
  const state = link.state();
  try {
    if (state.mode === 'sentinel') {
      const info = String(await link.run((c) => c.info('replication')));
      const replicas = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
      const role = /role:(\w+)/.exec(info)?.[1];
      if (role !== 'master')
        return add('redisTopology', 'fail', `the sentinels' primary answers as ${role ?? 'unknown'}`);
      if (replicas < 1)
        return add(
          'redisTopology',
          'fail',
          `sentinel primary ${state.primary ?? ''} has no connected replica: a failover would have nothing to promote`,
          'Attach at least one replica (replicaof) so the sentinels can promote it and WAIT can confirm writes.',
        );
      return add('redisTopology', 'pass', `sentinel: primary ${state.primary ?? '?'} with ${replicas} replica(s)`);
    }
    if (state.mode === 'cluster') {
      const nodes = String(await link.run((c) => c.cluster('NODES')));
      const lines = nodes.split('\n').filter(Boolean);
      const primaries = lines.filter((l) => /\bmaster\b/.test(l) && !/\bfail\b/.test(l) && /\d+-\d+|\s\d+$/.test(l));
      const withReplica = primaries.filter((p) => {
        const id = p.split(' ')[0];
        return lines.some((l) => /\bslave\b/.test(l) && l.split(' ')[3] === id);
      });
      if (withReplica.length < primaries.length)
        return add(
          'redisTopology',
          'fail',
          `cluster: ${primaries.length - withReplica.length} of ${primaries.length} shard(s) have no replica`,
          'Give every shard a replica (cluster-replicas 1) so a failed primary is replaced instead of its slots lost.',
        );
      return add('redisTopology', 'pass', `cluster: ${primaries.length} shard(s), each with a replica`);
    }
  } catch (err) {
    add('redisTopology', 'fail', `could not read the topology: ${explain(err)}`);
  }
}
