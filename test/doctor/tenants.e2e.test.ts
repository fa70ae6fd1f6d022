import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { doctorCli } from '../../src/doctor/cli';
import { type CheckId, type CheckResult, type DoctorReport, runDoctor } from '../../src/doctor/doctor';
import { type KitSandbox, type SandboxAccount, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { startTenants, tenantConfig, tokenOf } from '../support/tenants';

// Doctor with a tenants file: each tenant's Kit account checked and labelled with its id, the
// process's checks once, against several accounts of one Kit sandbox over HTTP.

const PROCESS_CHECKS: CheckId[] = ['config', 'sharedLimiter', 'redis', 'publicUrl', 'scimRoundTrip'];

function tenantEntry(id: string, keyVar: string, extra = ''): string {
  const tokenVar = `${id.toUpperCase().replace(/-/g, '_')}_TOKEN`;
  return [
    `  - id: ${id}`,
    `    kit:`,
    `      apiKey: \${${keyVar}}`,
    `    bearerTokens:`,
    `      - name: okta`,
    `        token: \${${tokenVar}}`,
    ...(extra ? [extra] : []),
  ].join('\n');
}

const SANDBOX_TENANT = ['  - id: try-out', '    kit:', '      sandbox: true'].join('\n');

const find = (report: DoctorReport, id: CheckId, tenant?: string): CheckResult | undefined =>
  report.checks.find((c) => c.id === id && c.tenant === tenant);

function run(argv: string[], env: Record<string, string>) {
  const io = {
    env,
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
  };
  return doctorCli(argv, io).then((code) => ({ code, out: io.out, err: io.err }));
}

describe('doctor with a tenants file', () => {
  let sandbox: KitSandbox;
  let a: SandboxAccount;
  let b: SandboxAccount;
  let dir: string;

  beforeEach(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    a = sandbox.createAccount();
    b = sandbox.createAccount();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-tenants-'));
  });
  afterEach(async () => {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The process's environment with a tenants file of `entries`: secrets only as ${VAR} in the file. */
  function envWith(entries: string[]): Record<string, string> {
    const file = path.join(dir, 'tenants.yaml');
    fs.writeFileSync(file, `version: 1\ntenants:\n${entries.join('\n')}\n`);
    return {
      TENANTS_FILE: file,
      KIT_API_URL: sandbox.url,
      // Kit's 120 calls over 200 ms: the limiter still spaces every call, without making the tests wait.
      KIT_RATE_WINDOW_MS: '200',
      KIT_TIMEOUT_MS: '2000',
      A_KEY: a.apiKey,
      B_KEY: b.apiKey,
      BRAND_A_TOKEN: tokenOf('brand-a'),
      BRAND_B_TOKEN: tokenOf('brand-b'),
      BRAND_A_NEWS_TOKEN: tokenOf('brand-a-news'),
    };
  }
  const secrets = () => [a.apiKey, b.apiKey, tokenOf('brand-a'), tokenOf('brand-b'), tokenOf('brand-a-news')];

  it('checks each tenant against its own Kit account: a revoked key fails that tenant only', async () => {
    b.revoke();
    const env = envWith([tenantEntry('brand-a', 'A_KEY'), tenantEntry('brand-b', 'B_KEY')]);

    const json = await run(['--json'], env);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(find(report, 'kitCredential', 'brand-a')).toMatchObject({ status: 'pass', tenant: 'brand-a' });
    expect(find(report, 'kitCredential', 'brand-b')).toMatchObject({
      status: 'fail',
      tenant: 'brand-b',
      result: expect.stringMatching(/rejected the credential \(HTTP 401\)/),
    });
    expect(find(report, 'reservedFields', 'brand-b')?.status).toBe('skip');
    expect(report.tenants).toEqual([
      { id: 'brand-a', status: 'pass', failed: 0 },
      { id: 'brand-b', status: 'fail', failed: 1 },
    ]);
    // The process's checks once, unlabelled; every other check names its tenant.
    for (const id of PROCESS_CHECKS) expect(report.checks.filter((c) => c.id === id && !c.tenant)).toHaveLength(1);
    expect(report.checks.filter((c) => !PROCESS_CHECKS.includes(c.id)).every((c) => c.tenant)).toBe(true);
    expect(find(report, 'config')?.result).toMatch(/tenants file .*tenants\.yaml: 2 tenant\(s\) \(brand-a, brand-b\)/);
    expect(find(report, 'sharedLimiter')?.result).toMatch(/every tenant has its own Kit credential/);
    // Each tenant's checks went to its own account: only A's got the reserved tag.
    expect(a.store.findTagByName('scim:deleted-users')).toBeTruthy();
    expect(b.store.findTagByName('scim:deleted-users')).toBeFalsy();

    const table = await run([], env);
    expect(table.code).toBe(1);
    expect(table.out).toMatch(/tenant\s+│ check\s+│ result/);
    expect(table.out).toMatch(/brand-b\s+│ Kit credential accepted\s+│ FAIL/);
    expect(table.out).toMatch(/brand-a: all checks passed\n\s*brand-b: 1 check\(s\) failed/);
    expect(table.err).toMatch(/FAIL \[brand-b\] Kit credential accepted/);
    for (const s of secrets()) expect(`${json.out}${json.err}${table.out}${table.err}`).not.toContain(s);
  });

  it('reports a broken tenants file as the failed configuration check, naming its line, and calls no Kit', async () => {
    const env = envWith([tenantEntry('brand-a', 'A_KEY', '    groupTagPrefx: "a:"')]);
    const { code, out } = await run(['--json'], { ...env, KIT_API_KEY: a.apiKey });
    expect(code).toBe(1);
    const report = JSON.parse(out) as DoctorReport;
    const config = find(report, 'config')!;
    expect(config.status).toBe('fail');
    expect(config.result).toMatch(/tenants\.yaml: line 9, column \d+: tenants\.0\.groupTagPrefx .*misspelt/);
    // The key beside the file is named, never shown.
    expect(config.result).toMatch(/KIT_API_KEY: is set in the environment beside TENANTS_FILE/);
    expect(config.fix).toMatch(/tenants file/);
    expect(report.checks.filter((c) => c.id !== 'config').every((c) => c.status === 'skip')).toBe(true);
    expect(report.tenants).toEqual([]);
    expect(out).not.toContain(a.apiKey);
    expect(a.calls().total + sandbox.calls().total).toBe(0);
  });

  it('reports a sandbox tenant as skipped, and names the tenants that share one Kit key', async () => {
    const env = envWith([
      tenantEntry('brand-a', 'A_KEY'),
      tenantEntry('brand-a-news', 'A_KEY', '    groupTagPrefix: "news:"'),
      SANDBOX_TENANT,
    ]);
    const { code, out } = await run(['--json'], env);
    const report = JSON.parse(out) as DoctorReport;
    expect(report.checks.filter((c) => c.tenant === 'try-out')).toEqual([
      expect.objectContaining({ id: 'config', status: 'skip', result: expect.stringMatching(/sandbox tenant/) }),
    ]);
    expect(report.tenants).toEqual([
      { id: 'brand-a', status: 'pass', failed: 0 },
      { id: 'brand-a-news', status: 'pass', failed: 0 },
      { id: 'try-out', status: 'skip', failed: 0 },
    ]);
    expect(find(report, 'sharedLimiter')).toMatchObject({
      status: 'pass',
      result: expect.stringMatching(/"brand-a" and "brand-a-news" use one Kit credential: they share one limiter/),
    });
    expect(find(report, 'groupPrefix', 'brand-a-news')?.result).toMatch(/no existing tag starts with "news:"/);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    for (const s of secrets()) expect(out).not.toContain(s);
  });

  it('--tenant checks one tenant; an unknown one is a bad argument', async () => {
    const env = envWith([tenantEntry('brand-a', 'A_KEY'), tenantEntry('brand-b', 'B_KEY')]);
    const one = await run(['--json', '--tenant', 'brand-b'], env);
    expect(one.code).toBe(0);
    const report = JSON.parse(one.out) as DoctorReport;
    expect(new Set(report.checks.flatMap((c) => (c.tenant ? [c.tenant] : [])))).toEqual(new Set(['brand-b']));
    expect(report.tenants).toEqual([{ id: 'brand-b', status: 'pass', failed: 0 }]);
    expect(a.calls().total).toBe(0);
    expect(b.calls().total).toBeGreaterThan(0);

    const unknown = await run(['--tenant', 'brand-c'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no tenant "brand-c"; the tenants are brand-a, brand-b/);
    // What is not an id (a token pasted in the wrong place?) is not repeated.
    const pasted = await run(['--tenant', tokenOf('brand-a')], env);
    expect(pasted.code).toBe(2);
    expect(pasted.err).not.toContain(tokenOf('brand-a'));
  });

  it("makes the round-trip at each tenant's path of the running server, with that tenant's own token", async () => {
    const env = envWith([tenantEntry('brand-a', 'A_KEY'), tenantEntry('brand-b', 'B_KEY')]);
    const { service, close } = await startTenants(
      [tenantConfig('brand-a', sandbox, { kitKey: a.apiKey }), tenantConfig('brand-b', sandbox, { kitKey: b.apiKey })],
      tenantConfig('process', sandbox).config,
    );
    try {
      const server = await service.listen(0, '127.0.0.1');
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const report = await runDoctor(env, { url: base });
      for (const id of ['brand-a', 'brand-b'])
        expect(find(report, 'scimRoundTrip', id)).toMatchObject({
          status: 'pass',
          result: expect.stringContaining(`${base}/tenants/${id}/scim/v2:`),
        });
      expect(report.ok).toBe(true);
    } finally {
      await close();
    }
  });
});
