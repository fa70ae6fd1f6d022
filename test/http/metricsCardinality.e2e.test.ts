import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { Registry } from 'prom-client';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { READONLY_TOKEN, startHarness } from '../support/harness';
import { OPERATOR_TOKEN, processConfig, sandboxFor, startTenants, tenantConfig } from '../support/tenants';

// A client's spelling of a path never becomes a metric series: the same endpoint written in any letter case or
// with any of its characters percent-encoded is counted under a label set the server already has. An
// establishing pass sends every real path once as written, in capitals, in lower case, and with each of its
// segments and each of its slashes percent-encoded in turn (every route and status a spelling can lead to); the
// fuzz pass then sends thousands of random mixtures of both, authorised with a read-only token, with another
// tenant's token, with a wrong one and with none, and no series may appear in any family.
//
// Reproduce a failure with FC_SEED=<seed>; FUZZ_VARIANTS=<n> changes the number of fuzzed requests per mode.

const SEED = Number(process.env.FC_SEED ?? 0xca5e);
const VARIANTS = Number(process.env.FUZZ_VARIANTS ?? 1500);
/** Requests in flight at once: enough to keep the server busy, no more. */
const IN_FLIGHT = 6;
/** Some 3,000 to 4,000 requests per test: a loaded machine needs more than the default minute. */
const TEST_TIMEOUT_MS = 240_000;

const SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:User';

interface Target {
  method: 'get' | 'post' | 'delete';
  path: string;
  query?: string;
}

/** The endpoints of one tenant, relative to where it is mounted (the root, or /tenants/{id}). */
const TENANT_TARGETS: Target[] = [
  { method: 'get', path: '/scim/v2/Schemas' },
  { method: 'get', path: `/scim/v2/Schemas/${SCHEMA_ID}` },
  { method: 'get', path: '/scim/v2/ResourceTypes' },
  { method: 'get', path: '/scim/v2/ResourceTypes/User' },
  { method: 'get', path: '/scim/v2/ServiceProviderConfig' },
  { method: 'get', path: '/scim/v2/Users', query: 'count=1' },
  { method: 'get', path: '/scim/v2/Users/987654321' },
  { method: 'get', path: '/scim/v2/Groups/987654321' },
  { method: 'post', path: '/scim/v2/Users/.search' },
  { method: 'delete', path: '/scim/v2/Users/987654321' },
  { method: 'get', path: '/scim/v2/Me' },
  { method: 'get', path: '/metrics' },
  { method: 'get', path: '/readyz' },
  { method: 'get', path: '/status' },
  { method: 'get', path: '/status/login' },
];

/** The process's own endpoints, at the root only. */
const PROCESS_TARGETS: Target[] = [
  { method: 'get', path: '/metrics' },
  { method: 'get', path: '/readyz' },
  { method: 'get', path: '/healthz' },
  { method: 'post', path: '/kit/webhooks/not-the-secret/subscriber.subscriber_activate' },
];

function targetsAt(bases: string[]): Target[] {
  return [
    ...bases.flatMap((base) => TENANT_TARGETS.map((t) => ({ ...t, path: `${base}${t.path}` }))),
    ...PROCESS_TARGETS,
  ];
}

const percent = (c: string, lower: boolean) => {
  const hex = `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`;
  return lower ? hex.toLowerCase() : hex;
};

/** `path` with segment `index` (counted from 1) percent-encoded whole. */
function encodeSegment(path: string, index: number): string {
  return path
    .split('/')
    .map((segment, i) => (i === index ? [...segment].map((c) => percent(c, false)).join('') : segment))
    .join('/');
}

/** `path` with its slash `index` (counted from 1, after the leading one) percent-encoded. */
function encodeSlash(path: string, index: number): string {
  const segments = path.split('/');
  return `/${segments.slice(1, index + 1).join('/')}%2F${segments.slice(index + 1).join('/')}`;
}

/**
 * Every spelling class of `path`: as written, capitals, lower case, each segment percent-encoded in turn, and
 * each slash but the leading one percent-encoded in turn (the first part that no longer reads as written
 * decides where a request ends up).
 */
function establishingSpellings(path: string): string[] {
  const separators = path.split('/').length - 1;
  const encoded = Array.from({ length: separators }, (_, i) => encodeSegment(path, i + 1));
  const slashes = Array.from({ length: separators - 1 }, (_, i) => encodeSlash(path, i + 1));
  return [path, path.toUpperCase(), path.toLowerCase(), ...encoded, ...slashes];
}

/** One random spelling: per character, its case flipped or kept, and now and then percent-encoded. */
const spelling = (path: string) =>
  fc.array(fc.integer({ min: 0, max: 99 }), { minLength: path.length, maxLength: path.length }).map((dice) =>
    [...path]
      .map((c, i) => {
        const die = dice[i];
        // The leading slash stays: without it there is no path to send.
        if (c === '/') return die < 2 && i > 0 ? percent(c, false) : c;
        if (die < 4) return percent(c, die < 2);
        return die < 54 ? (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) : c;
      })
      .join(''),
  );

interface Mode {
  registry: Registry;
  base: string;
  targets: Target[];
  /** Authorization header values, `undefined` for none. */
  credentials: Array<string | undefined>;
  /** The `tenant` label values the series may carry: the configured ids (none for the environment's tenant). */
  tenantIds: string[];
}

/** A distinct client address per request (TRUST_PROXY), so the failure throttle never turns a 401 into a 429. */
let clients = 0;
function nextClient(): string {
  clients++;
  return `10.${(clients >> 16) & 255}.${(clients >> 8) & 255}.${clients & 255}`;
}

async function send(mode: Mode, target: Target, path: string, credential: string | undefined): Promise<number> {
  const headers: Record<string, string> = { 'X-Forwarded-For': nextClient() };
  if (credential !== undefined) headers.Authorization = credential;
  if (target.method === 'post') headers['Content-Type'] = 'application/scim+json';
  const res = await fetch(`${mode.base}${path}${target.query ? `?${target.query}` : ''}`, {
    method: target.method.toUpperCase(),
    headers,
    body: target.method === 'post' ? '{}' : undefined,
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return res.status;
}

/** Every series of the server's own metrics, as `family{labels}` (process metrics such as GC kinds come and go). */
async function seriesOf(registry: Registry): Promise<Set<string>> {
  const series = new Set<string>();
  for (const family of await registry.getMetricsAsJSON()) {
    if (family.name.startsWith('nodejs_') || family.name.startsWith('process_')) continue;
    for (const value of family.values)
      series.add(`${(value as { metricName?: string }).metricName ?? family.name}${JSON.stringify(value.labels)}`);
  }
  return series;
}

interface Probe {
  target: Target;
  path: string;
  credential: string | undefined;
}

/** Sends `probes` a few at a time (their order does not matter to the series); the statuses they got. */
async function sendAll(mode: Mode, probes: Probe[]): Promise<Set<number>> {
  const statuses = new Set<number>();
  let next = 0;
  const lane = async () => {
    while (next < probes.length) {
      const { target, path, credential } = probes[next++];
      statuses.add(await send(mode, target, path, credential));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return statuses;
}

const establishingProbes = (mode: Mode): Probe[] =>
  mode.targets.flatMap((target) =>
    establishingSpellings(target.path).flatMap((path) =>
      mode.credentials.map((credential) => ({ target, path, credential })),
    ),
  );

const fuzzedProbes = (mode: Mode): Probe[] =>
  fc.sample(
    fc
      .record({ target: fc.constantFrom(...mode.targets), credential: fc.constantFrom(...mode.credentials) })
      .chain(({ target, credential }) => spelling(target.path).map((path) => ({ target, credential, path }))),
    { seed: SEED, numRuns: VARIANTS },
  );

async function expectBoundedSeries(mode: Mode): Promise<void> {
  await sendAll(mode, establishingProbes(mode));
  const established = await seriesOf(mode.registry);
  expect([...established].some((s) => s.startsWith('scim_http_requests_total'))).toBe(true);
  const statuses = await sendAll(mode, fuzzedProbes(mode));
  // The fuzz reached answers of every kind, not one refusal repeated.
  for (const status of [200, 401, 404]) expect(statuses).toContain(status);
  const after = await seriesOf(mode.registry);
  const added = [...after].filter((s) => !established.has(s));
  expect(added).toEqual([]);
  // A tenant label is a configured tenant's id, never a segment as sent (A, %61, nobody).
  const tenantLabels = new Set([...after].flatMap((s) => [...s.matchAll(/"tenant":"([^"]*)"/g)].map((m) => m[1])));
  expect([...tenantLabels].sort()).toEqual(mode.tenantIds);
}

async function listen(service: Service): Promise<string> {
  const server: Server = await service.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('metric series under case and percent-encoding variants of real paths', () => {
  it(
    "one tenant (the environment's): the root, /tenants/default and an unknown tenant",
    async () => {
      const h = await startHarness({ env: { TRUST_PROXY: 'true' } });
      try {
        await expectBoundedSeries({
          registry: h.service.metrics.registry,
          base: await listen(h.service),
          targets: targetsAt(['', '/tenants/default', '/tenants/nobody']),
          credentials: [`Bearer ${READONLY_TOKEN}`, 'Bearer not-a-token-0123456789abcdef0123456', undefined],
          tenantIds: [],
        });
      } finally {
        await h.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'two tenants (a tenants file): each tenant, an unknown tenant and the root',
    async () => {
      let kit: KitSandbox | undefined;
      let close: (() => Promise<void>) | undefined;
      try {
        kit = await sandboxFor();
        const readOnly = (id: string) => ({
          SCIM_READONLY_BEARER_TOKENS: `iga-${id}=readonly-${id}-0123456789abcdef0123456789`,
        });
        const started = await startTenants(
          [tenantConfig('a', kit, { env: readOnly('a') }), tenantConfig('b', kit, { env: readOnly('b') })],
          processConfig(kit, { TRUST_PROXY: 'true' }),
        );
        close = started.close;
        const base = await listen(started.service);
        await expectBoundedSeries({
          registry: started.service.metrics.registry,
          base,
          targets: targetsAt(['', '/tenants/a', '/tenants/b', '/tenants/nobody']),
          credentials: [
            'Bearer readonly-a-0123456789abcdef0123456789',
            `Bearer ${OPERATOR_TOKEN}`,
            'Bearer not-a-token-0123456789abcdef0123456',
            undefined,
          ],
          tenantIds: ['a', 'b'],
        });
        // The path's literal parts are matched in any letter case, the tenant id exactly: tenant a, counted as a.
        const before = await started.service.metrics.registry.metrics();
        const res = await fetch(`${base}/TENANTS/a/SCIM/V2/Schemas`, {
          headers: { Authorization: 'Bearer readonly-a-0123456789abcdef0123456789', 'X-Forwarded-For': nextClient() },
        });
        expect(res.status).toBe(200);
        const counted =
          /scim_http_requests_total\{tenant="a",method="GET",route="\/scim\/v2\/Schemas",status="200"\} (\d+)/;
        const count = (text: string) => Number(text.match(counted)?.[1]);
        expect(count(await started.service.metrics.registry.metrics())).toBe(count(before) + 1);
      } finally {
        await close?.();
        await kit?.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
