import { loadConfig } from '../../src/config/environment';
import { seriesOfTenant } from '../../src/platform/metrics';
import type { TenantConfig } from '../../src/config/tenants/model';
import { planReload } from '../../src/app/reloadPlan';

function tenant(id: string, key: string, token = 'unit-token-0123456789abcdef0123456789'): TenantConfig {
  return {
    id,
    config: loadConfig({
      KIT_API_URL: 'https://api.kit.example',
      KIT_API_KEY: key,
      SCIM_BEARER_TOKENS: `okta=${token}`,
    }),
  };
}

describe('planReload', () => {
  it('sorts tenants into added, removed, changed and unchanged by comparing their whole configuration', () => {
    const current = [tenant('a', 'key-a'), tenant('b', 'key-b'), tenant('c', 'key-c')];
    const next = [
      tenant('a', 'key-a'),
      tenant('c', 'key-c', 'rotated-token-0123456789abcdef01234567'),
      tenant('d', 'key-d'),
    ];
    const plan = planReload(current, next);
    expect(plan.unchanged).toEqual(['a']);
    expect(plan.changed.map((t) => t.id)).toEqual(['c']);
    expect(plan.added.map((t) => t.id)).toEqual(['d']);
    expect(plan.removed).toEqual(['b']);
  });

  it('sees a change deep inside a configuration (a rotated Kit key)', () => {
    const plan = planReload([tenant('a', 'key-a')], [tenant('a', 'key-a-rotated')]);
    expect(plan.changed.map((t) => t.id)).toEqual(['a']);
    expect(plan.unchanged).toEqual([]);
  });
});

describe('seriesOfTenant', () => {
  const exposition = [
    '# HELP kit_api_calls_total Kit calls',
    '# TYPE kit_api_calls_total counter',
    'kit_api_calls_total{tenant="a",endpoint="GET /v4/account",status="200"} 3',
    'kit_api_calls_total{tenant="ab",endpoint="GET /v4/account",status="200"} 5',
    'kit_api_calls_total{tenant="b",endpoint="GET /v4/account",status="200"} 7',
    '# HELP process_cpu_seconds_total CPU',
    '# TYPE process_cpu_seconds_total counter',
    'process_cpu_seconds_total 12',
    '',
  ].join('\n');

  it("keeps one tenant's series with their HELP and TYPE, and nothing of other tenants or the process", () => {
    expect(seriesOfTenant(exposition, 'a')).toBe(
      [
        '# HELP kit_api_calls_total Kit calls',
        '# TYPE kit_api_calls_total counter',
        'kit_api_calls_total{tenant="a",endpoint="GET /v4/account",status="200"} 3',
        '',
      ].join('\n'),
    );
    expect(seriesOfTenant(exposition, 'b')).toContain('} 7');
    expect(seriesOfTenant(exposition, 'b')).not.toContain('} 5');
    expect(seriesOfTenant(exposition, 'nobody')).toBe('');
  });
});
