import type { RedisTopologyState } from '../platform/redisTopology';
import type { Readiness, ReadinessReport } from '../platform/readiness';
import type { Tenant } from './tenant';

// GET /readyz of a process with tenants. The process is ready when its own checks (Redis) pass and
// at least one tenant is: a load balancer must keep sending traffic while any Kit account can be served, and a
// tenant whose Kit key was revoked must not take the others out of rotation. Each tenant's checks are listed.
// With exactly one tenant the top-level `checks` also carry its checks, so a probe written for one Kit account reads
// the same shape.

export interface TenantReadiness {
  status: ReadinessReport['status'];
  /** On the built-in in-memory Kit sandbox: whatever it provisions is gone on restart. */
  sandbox: boolean;
  checks: ReadinessReport['checks'];
}

export interface ProcessReadinessReport extends ReadinessReport {
  /** Whether any tenant runs on the built-in sandbox: a deployment must never say true unnoticed. */
  sandbox: boolean;
  tenants: Record<string, TenantReadiness>;
  /** The shared Redis: its mode, the primary in use (sentinel) or shard count (cluster), a failover under way. */
  redis?: RedisTopologyState;
}

export function processReadiness(
  process: Readiness,
  tenants: Tenant[],
  redis?: RedisTopologyState,
): ProcessReadinessReport {
  const own = process.report();
  const byTenant: Record<string, TenantReadiness> = {};
  for (const tenant of tenants) {
    const report = tenant.readiness.report();
    byTenant[tenant.id] = { status: report.status, sandbox: tenant.sandbox, checks: report.checks };
  }
  const ready = process.ready && tenants.some((t) => t.ready);
  const checks = tenants.length === 1 ? { ...own.checks, ...byTenant[tenants[0].id].checks } : own.checks;
  return {
    status: ready ? 'ok' : 'unavailable',
    shuttingDown: own.shuttingDown,
    sandbox: tenants.some((t) => t.sandbox),
    checks,
    tenants: byTenant,
    ...(redis ? { redis } : {}),
  };
}
