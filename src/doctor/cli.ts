import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { type CheckResult, type DoctorParts, type DoctorReport, runDoctor, UnknownTenantError } from './doctor';

// `convertkit-scim doctor [--json] [--url URL] [--token TOKEN] [--existing-groups] [--tenant ID]`, also
// `npm run doctor`.
// Exit codes: 0 every check passed (or did not apply), 1 a check failed, 2 bad arguments.
// The table goes to stdout; progress while waiting goes to stderr, so `--json` output stays parseable.

const USAGE = `Usage: convertkit-scim doctor [options]

Checks the configuration in the environment (the server's own variables, and the tenants file TENANTS_FILE
names) before go-live: each tenant's Kit account, then Redis and the public URL once.

  --json              print the report as JSON (for automation)
  --url URL           also make a dry-run SCIM round-trip against the running server at URL
  --token TOKEN       bearer token for --url (default: SCIM_DOCTOR_TOKEN, else a configured read-only token)
  --existing-groups   tags under GROUP_TAG_PREFIX are this server's groups (re-running after go-live)
  --tenant ID         check this tenant of the tenants file only
  -h, --help          this text

Exit code 0 when every check passes, 1 when one fails, 2 on bad arguments.
`;

export interface DoctorIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Table column widths follow the terminal; undefined when not a terminal. */
  columns?: number;
}

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'skip' };

// With a tenants file the table gains a first column, the tenant (blank: a check of the whole process), and
// a line per tenant under it; without one it is the table from before tenants.
const TENANT_W = 14;
const SUMMARY: Record<CheckResult['status'], (failed: number) => string> = {
  pass: () => 'all checks passed',
  fail: (failed) => `${failed} check(s) failed`,
  skip: () => 'a sandbox tenant, nothing to check',
};

export function renderTable(report: DoctorReport, columns = 140): string {
  const tenants = report.tenants;
  const width = Math.max(90, columns) - (tenants ? TENANT_W + 3 : 0);
  const checkW = 30;
  const resultW = Math.floor((width - checkW - 10) * 0.55);
  const fixW = width - checkW - resultW - 10;
  const table = new Table({
    head: [...(tenants ? ['tenant'] : []), 'check', 'result', 'what to do'],
    colWidths: [...(tenants ? [TENANT_W] : []), checkW, resultW, fixW],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: [] },
  });
  for (const c of report.checks)
    table.push([...(tenants ? [c.tenant ?? ''] : []), c.check, `${MARK[c.status]}  ${c.result}`, c.fix ?? '']);
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const perTenant = (tenants ?? []).map((t) => `  ${t.id}: ${SUMMARY[t.status](t.failed)}\n`).join('');
  return `${table.toString()}\n${perTenant}${
    report.ok ? 'All checks passed.' : `${failed} check(s) failed: fix them and run doctor again.`
  }\n`;
}

/** `parts`: the Redis link, limiters and Kit clients the checks run on, built by the process's wiring. */
export async function doctorCli(argv: string[], io: DoctorIo, parts: DoctorParts): Promise<number> {
  let values: {
    json?: boolean;
    url?: string;
    token?: string;
    'existing-groups'?: boolean;
    tenant?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        url: { type: 'string' },
        token: { type: 'string' },
        'existing-groups': { type: 'boolean' },
        tenant: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (values.url !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(values.url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) {
      io.stderr(`--url must be an http(s) URL\n\n${USAGE}`);
      return 2;
    }
  }
  let report: DoctorReport;
  try {
    report = await runDoctor(parts, io.env, {
      url: values.url,
      token: values.token ?? (io.env.SCIM_DOCTOR_TOKEN || undefined),
      existingGroupsOk: values['existing-groups'],
      tenant: values.tenant,
      progress: (message) => io.stderr(`  … ${message}\n`),
      onResult: values.json
        ? undefined
        : (r) => io.stderr(`  ${MARK[r.status]} ${r.tenant === undefined ? '' : `[${r.tenant}] `}${r.check}\n`),
    });
  } catch (err) {
    if (!(err instanceof UnknownTenantError)) throw err;
    io.stderr(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report, io.columns));
  return report.ok ? 0 : 1;
}
