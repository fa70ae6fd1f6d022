import { limiterIdFor } from '../kit/limiter';
import type { TenantConfig } from '../config/tenants/model';
import type { Add } from './checks';

// Kit counts calls per key, so tenants on one key share one limiter and one budget (src/app/limiterRegistry.ts).
// That is right for one account under two group prefixes, and a surprise for two brands that copied one key:
// doctor names the tenants that share, from the configuration alone (no Kit call, no secret shown).

/** The ids of tenants that share a Kit credential, one list per shared credential, in file order. */
export function tenantsSharingKitKeys(tenants: readonly TenantConfig[]): string[][] {
  const byLimiter = new Map<string, string[]>();
  for (const t of tenants) {
    const credentials = t.config.kit.credentials;
    if (t.sandbox || !credentials) continue;
    const id = limiterIdFor(t.config.kit.baseUrl, credentials);
    byLimiter.set(id, [...(byLimiter.get(id) ?? []), t.id]);
  }
  return [...byLimiter.values()].filter((ids) => ids.length > 1);
}

/** `checked`: the tenants doctor checks (`--tenant`); a sharing that involves none of them is not shown. */
export function checkSharedLimiters(
  tenants: readonly TenantConfig[],
  checked: readonly TenantConfig[],
  add: Add,
): void {
  const shared = tenantsSharingKitKeys(tenants).filter((ids) => checked.some((t) => ids.includes(t.id)));
  if (shared.length === 0) {
    add('sharedLimiter', 'pass', 'every tenant has its own Kit credential, and its own budget');
    return;
  }
  const named = shared.map((ids) => ids.map((id) => `"${id}"`).join(' and '));
  add(
    'sharedLimiter',
    'pass',
    `${named.join('; ')} use one Kit credential: they share one limiter and one budget`,
    'Expected for one Kit account under several group prefixes; two brands need a Kit key each.',
  );
}
