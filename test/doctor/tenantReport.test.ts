import { loadConfig } from '../../src/config/environment';
import { renderTable } from '../../src/doctor/cli';
import type { DoctorReport } from '../../src/doctor/doctor';
import { scimBaseOf } from '../../src/doctor/processChecks';
import { tenantsSharingKitKeys } from '../../src/doctor/sharedLimiters';
import type { TenantConfig } from '../../src/config/tenants/model';

// The pure parts of a tenant-aware doctor: its table, the SCIM base of a tenant, shared Kit keys.

const report: DoctorReport = {
  ok: false,
  checks: [
    { id: 'config', check: 'configuration valid', status: 'pass', result: 'tenants file t.yaml: 2 tenant(s)' },
    { id: 'kitCredential', check: 'Kit credential accepted', status: 'fail', result: 'rejected', tenant: 'brand-b' },
    { id: 'config', check: 'configuration valid', status: 'skip', result: 'a sandbox tenant', tenant: 'try-out' },
  ],
  tenants: [
    { id: 'brand-b', status: 'fail', failed: 1 },
    { id: 'try-out', status: 'skip', failed: 0 },
  ],
};

describe('the doctor table with tenants', () => {
  it('has a tenant column (blank for the process) and a line per tenant', () => {
    const table = renderTable(report, 120);
    expect(table).toMatch(/│ tenant\s+│ check\s+│ result\s+│ what to do/);
    expect(table).toMatch(/│\s+│ configuration valid\s+│ PASS {2}tenants file/);
    expect(table).toMatch(/│ brand-b\s+│ Kit credential accepted\s+│ FAIL {2}rejected/);
    expect(table).toMatch(
      / {2}brand-b: 1 check\(s\) failed\n {2}try-out: a sandbox tenant, nothing to check\n1 check\(s\) failed/,
    );
    // Every line of the table keeps to the width asked for.
    expect(Math.max(...table.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
  });

  it('without tenants is the table from before tenants', () => {
    const table = renderTable({ ok: true, checks: report.checks.slice(0, 1) }, 120);
    expect(table).toMatch(/^┌/);
    expect(table).toMatch(/│ check\s+│ result\s+│ what to do/);
    expect(table).not.toMatch(/│ tenant/);
    expect(table).toMatch(/All checks passed\.\n$/);
  });
});

describe('scimBaseOf', () => {
  it('finds the server root in any of its SCIM bases, and appends the tenant path', () => {
    for (const url of [
      'https://scim.example.com',
      'https://scim.example.com/scim/v2/',
      'https://scim.example.com/tenants/x/scim/v2',
    ])
      expect(scimBaseOf(url, 'brand-a')).toBe('https://scim.example.com/tenants/brand-a/scim/v2');
    expect(scimBaseOf('https://scim.example.com/SCIM/v2')).toBe('https://scim.example.com/scim/v2');
  });
});

describe('tenantsSharingKitKeys', () => {
  const tenant = (id: string, key: string | undefined, url = 'https://api.kit.com'): TenantConfig => ({
    id,
    config: loadConfig({ KIT_API_URL: url, ...(key ? { KIT_API_KEY: key } : {}) }),
    ...(key ? {} : { sandbox: true }),
  });

  it('groups tenants by Kit credential (key and base URL); a sandbox tenant shares nothing', () => {
    const tenants = [
      tenant('a', 'kit_key_one_0123456789'),
      tenant('b', 'kit_key_two_0123456789'),
      tenant('a-news', 'kit_key_one_0123456789'),
      tenant('elsewhere', 'kit_key_one_0123456789', 'https://kit.example.test'),
      tenant('try-1', undefined),
      tenant('try-2', undefined),
    ];
    expect(tenantsSharingKitKeys(tenants)).toEqual([['a', 'a-news']]);
  });
});
