import { isDeepStrictEqual } from 'node:util';
import type { TenantConfig } from '../config/tenants/model';

// What a reload of the tenants file changes: compared tenant by tenant, so a tenant whose entry is
// the same keeps running untouched (its caches, mirror and in-flight requests), whatever happens to the others.

export interface ReloadPlan {
  added: TenantConfig[];
  removed: string[];
  changed: TenantConfig[];
  unchanged: string[];
}

export function planReload(current: readonly TenantConfig[], next: readonly TenantConfig[]): ReloadPlan {
  const before = new Map(current.map((t) => [t.id, t]));
  const after = new Set(next.map((t) => t.id));
  const plan: ReloadPlan = { added: [], removed: [], changed: [], unchanged: [] };
  for (const tenant of next) {
    const old = before.get(tenant.id);
    if (!old) plan.added.push(tenant);
    else if (isDeepStrictEqual(old, tenant)) plan.unchanged.push(tenant.id);
    else plan.changed.push(tenant);
  }
  for (const id of before.keys()) if (!after.has(id)) plan.removed.push(id);
  return plan;
}
