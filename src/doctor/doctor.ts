import { type Clock, systemClock } from '../platform/clock';
import { type Config, ConfigError, loadConfig, secretsOf } from '../config/environment';
import { environmentFileProblems } from '../config/writtenFiles';
import { maskSecrets } from '../platform/logging';
import { type KitLimiter, limiterIdFor } from '../kit/limiter';
import type { RedisLink } from '../platform/redisLink';
import { describeTopology } from '../platform/redisTopology';
import { TENANT_ID_PATTERN, type TenantConfig, type TenantsConfig } from '../config/tenants/model';
import { loadTenants, secretsOfTenants } from '../config/tenants/tenantsFile';
import {
  type Add,
  CHECKS,
  type CheckId,
  type CheckResult,
  type CheckStatus,
  KIT_ACCOUNT_CHECKS,
  progressReporter,
  until,
} from './checks';
import { configVerdict, type ConfigVerdict, tenantVerdict } from './configCheck';
import { checkKitAccount } from './kitAccount';
import type { DoctorParts, SlotTarget } from './parts';
import { checkPublicUrl, checkRedis, scimBaseOf, scimRoundTrip } from './processChecks';
import { checkSharedLimiters } from './sharedLimiters';

// `convertkit-scim doctor`: what an operator checks before go-live, in the order a failure blocks the next.
// It reads the same environment (and TENANTS_FILE) through the same loaders as the server, and talks to Kit
// through the same client behind the same limiter (the shared one in Redis when REDIS_URL is set), which the
// process's wiring builds for it (DoctorParts), so it spends each credential's budget as a replica would: about
// four Kit calls per tenant, plus one per reserved field or tag it has to create. The Kit account checks run
// once per tenant; the process's (Redis, PUBLIC_BASE_URL) once.

export { CHECKS, type CheckId, type CheckResult, type CheckStatus } from './checks';
export type { DoctorParts } from './parts';

/** With a tenants file: how each checked tenant fared. */
export interface TenantSummary {
  id: string;
  /** 'skip' for a sandbox tenant (nothing to check), 'fail' when one of its checks failed. */
  status: CheckStatus;
  failed: number;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
  /** One summary per tenant; only with a tenants file. */
  tenants?: TenantSummary[];
}

/** `--tenant` named no tenant of the configuration: a bad argument, not a failed check. */
export class UnknownTenantError extends Error {}

export interface DoctorOptions {
  /** The running server (its root or its /scim/v2 URL) for the dry-run round-trip. */
  url?: string;
  /**
   * A SCIM bearer token for the round-trip; default: a configured read-only token, else the first one. With a
   * tenants file it is used only when one tenant is checked (a token identifies one tenant).
   */
  token?: string;
  /** Tags under GROUP_TAG_PREFIX are this server's own groups (a re-run after go-live), not a clash. */
  existingGroupsOk?: boolean;
  /** Check this tenant only (its id in the tenants file; `default` without one). */
  tenant?: string;
  clock?: Clock;
  /** Called while a check waits (for the limiter, Redis, a URL), about once a second. */
  progress?: (message: string) => void;
  /** Called as each check finishes, for live output. */
  onResult?: (result: CheckResult) => void;
  /** How long to wait for Redis to answer before calling it down. */
  redisWaitMs?: number;
  httpTimeoutMs?: number;
}

/** A tenant whose configuration can be checked against Kit. */
interface Checkable {
  tenant: TenantConfig;
  credentials: Extract<ConfigVerdict, { status: 'pass' }>['credentials'];
}

const TENANTS_DOC = 'docs/configuration/tenants.md';

export async function runDoctor(
  parts: DoctorParts,
  env: Record<string, string | undefined>,
  opts: DoctorOptions = {},
): Promise<DoctorReport> {
  const clock = opts.clock ?? systemClock;
  const checks: CheckResult[] = [];
  let secrets: string[] = opts.token ? [opts.token] : [];
  const addFor =
    (tenant?: string): Add =>
    (id, status, result, fix) => {
      const entry: CheckResult = {
        id,
        check: CHECKS[id],
        status,
        result: maskSecrets(result, secrets),
        ...(fix ? { fix: maskSecrets(fix, secrets) } : {}),
        ...(tenant === undefined ? {} : { tenant }),
      };
      checks.push(entry);
      opts.onResult?.(entry);
    };
  const add = addFor();
  const skipRest = (ids: readonly CheckId[], reason: string) => {
    for (const id of ids) if (!checks.some((c) => c.id === id)) add(id, 'skip', reason);
  };
  const ok = () => checks.every((c) => c.status !== 'fail');

  // 1. Configuration, by the server's own loaders.
  const fromFile = Boolean(env.TENANTS_FILE?.trim());
  // The checks of a report without a tenants file (no shared-key check: there is one key).
  const environmentChecks = (Object.keys(CHECKS) as CheckId[]).filter((id) => id !== 'sharedLimiter');
  let base: Config;
  let configured: TenantsConfig;
  try {
    base = loadConfig(env);
    configured = loadTenants(base, env);
    // The token store has a check of its own below; a tenants file's files were checked at their lines.
    const files = environmentFileProblems(
      configured.source.kind === 'environment' ? configured.tenants[0].config : base,
      { tokenStore: false },
    );
    if (files.length > 0) throw new ConfigError(files);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    add(
      'config',
      'fail',
      err.problems.join('; '),
      fromFile
        ? `Fix the tenants file at the lines named, or the variables named (see ${TENANTS_DOC}); values are never shown.`
        : 'Fix the variables named (see docs/configuration/environment.md); values are never shown.',
    );
    skipRest(
      fromFile ? (Object.keys(CHECKS) as CheckId[]) : environmentChecks,
      `not run: the ${fromFile ? 'tenants file' : 'configuration'} is invalid`,
    );
    return { ok: ok(), checks, ...(fromFile ? { tenants: [] } : {}) };
  }
  secrets = [...secrets, ...secretsOf(base), ...secretsOfTenants(configured)];
  const file = configured.source.kind === 'file' ? configured.source.path : undefined;
  const selected = selectTenants(configured, opts.tenant, secrets);

  const checkable: Checkable[] = [];
  if (file === undefined) {
    // Without a tenants file the report is the one from before tenants: its config check stops everything.
    const verdict = configVerdict(selected[0].config);
    if (verdict.status !== 'pass') {
      add('config', verdict.status, verdict.result, verdict.fix);
      skipRest(environmentChecks, verdict.skipReason);
      return { ok: ok(), checks };
    }
    add('config', 'pass', verdict.result);
    checkable.push({ tenant: selected[0], credentials: verdict.credentials });
  } else {
    const ids = configured.tenants.map((t) => t.id);
    add(
      'config',
      'pass',
      `tenants file ${file}: ${ids.length} tenant(s) (${ids.join(', ')})` +
        (opts.tenant === undefined ? '' : `; checking "${opts.tenant}" only`),
    );
    // A tenant whose configuration fails does not stop the others: each is its own Kit account.
    for (const tenant of selected) {
      const tenantAdd = addFor(tenant.id);
      const verdict = tenantVerdict(tenant);
      if (verdict.status === 'pass') {
        tenantAdd('config', 'pass', verdict.result);
        checkable.push({ tenant, credentials: verdict.credentials });
      } else {
        tenantAdd('config', verdict.status, verdict.result, verdict.fix);
        // A sandbox tenant is one informational line; a failed one shows what was not checked.
        if (verdict.status === 'fail') for (const id of KIT_ACCOUNT_CHECKS) tenantAdd(id, 'skip', verdict.skipReason);
      }
    }
  }

  const waiting = progressReporter(clock, opts.progress);
  let link: RedisLink | undefined;
  // One limiter per Kit credential, as the server's LimiterRegistry: tenants on one key take turns in one budget.
  const limiters = new Map<string, KitLimiter>();
  try {
    if (base.redisTopology) {
      link = parts.openRedis(base.redisTopology, base, clock);
      await waiting(`connecting to Redis at ${describeTopology(base.redisTopology)}`, () =>
        until(() => link!.healthy, opts.redisWaitMs ?? 3000, clock),
      );
    }

    // 2–6. Each tenant's Kit account.
    let slotTarget: SlotTarget | undefined;
    for (const { tenant, credentials } of checkable) {
      const { config } = tenant;
      const limiterId = limiterIdFor(config.kit.baseUrl, credentials);
      let limiter = limiters.get(limiterId);
      if (!limiter) {
        limiter = parts.kitLimiter(limiterId, config, link, clock);
        limiters.set(limiterId, limiter);
      }
      slotTarget ??= { limiterId, spacingMs: limiter.spacingMs };
      const kit = parts.kitClient(config, credentials, limiter, link, clock);
      const label = file === undefined ? '' : `${tenant.id}: `;
      await checkKitAccount(
        {
          config,
          credentials,
          kit,
          link,
          existingGroupsOk: Boolean(opts.existingGroupsOk),
          kitCall: (what, fn) => waiting(`${label}${what}: waiting for a Kit call slot`, fn),
        },
        file === undefined ? add : addFor(tenant.id),
      );
    }

    // The process's own checks, once.
    if (file !== undefined) checkSharedLimiters(configured.tenants, selected, add);
    await checkRedis(parts, base, link, slotTarget, waiting, clock, add);
    await checkPublicUrl(base.publicUrls.baseUrl, waiting, opts.httpTimeoutMs, add);

    // 9. A SCIM round-trip against the running server that changes nothing, at each tenant's path.
    if (!opts.url) add('scimRoundTrip', 'skip', 'give --url (and --token) to try the running server');
    else
      for (const { tenant } of checkable) {
        const tenantAdd = file === undefined ? add : addFor(tenant.id);
        // A token identifies one tenant: --token is every tenant's only when one is checked.
        const given = file === undefined || selected.length === 1 ? opts.token : undefined;
        const tokens = tenant.config.scim.bearerTokens;
        const token = given ?? tokens.find((t) => t.readOnly)?.token ?? tokens[0]?.token;
        if (!token)
          tenantAdd(
            'scimRoundTrip',
            'fail',
            'no bearer token to call the server with',
            'Pass --token (or SCIM_DOCTOR_TOKEN) with a token the server accepts.',
          );
        else
          await scimRoundTrip(
            scimBaseOf(opts.url, file === undefined ? undefined : tenant.id),
            token,
            waiting,
            opts.httpTimeoutMs,
            tenantAdd,
          );
      }
    return { ok: ok(), checks, ...(file === undefined ? {} : { tenants: summaries(selected, checks) }) };
  } finally {
    await Promise.all([...limiters.values()].map((l) => l.stop()));
    await link?.close();
  }
}

/** The tenants to check: all, or the one `--tenant` names. */
function selectTenants(configured: TenantsConfig, id: string | undefined, secrets: string[]): TenantConfig[] {
  if (id === undefined) return configured.tenants;
  const found = configured.tenants.filter((t) => t.id === id);
  if (found.length > 0) return found;
  // An argument that is not an id could be anything (a token pasted in the wrong place): it is not repeated,
  // nor one of the configured secrets, which may well look like an id.
  const named = TENANT_ID_PATTERN.test(id) ? `"${id}"` : 'of that id';
  throw new UnknownTenantError(
    maskSecrets(
      `--tenant: no tenant ${named}; the tenants are ${configured.tenants.map((t) => t.id).join(', ')}`,
      secrets,
    ),
  );
}

function summaries(tenants: readonly TenantConfig[], checks: readonly CheckResult[]): TenantSummary[] {
  return tenants.map((t) => {
    const failed = checks.filter((c) => c.tenant === t.id && c.status === 'fail').length;
    return { id: t.id, status: t.sandbox ? 'skip' : failed > 0 ? 'fail' : 'pass', failed };
  });
}
