import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Harness, type HarnessOptions, startHarness } from './harness';
import { unique } from './unique';

/** An audit record as the server writes it, one JSON line each. */
export type AuditRecord = Record<string, any>;

/**
 * A harness that writes its audit trail (AUDIT_LOG) to a file of its own, for one describe block: started in
 * beforeAll, closed and its file removed in afterAll. `records()` reads what the file holds now.
 */
export function auditedHarness(opts: HarnessOptions = {}): { harness: () => Harness; records: () => AuditRecord[] } {
  const file = path.join(os.tmpdir(), `kscim-audit-${process.pid}-${unique()}.jsonl`);
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await startHarness({ ...opts, env: { ...opts.env, AUDIT_LOG: file } });
  });
  afterAll(async () => {
    await h?.close();
    fs.rmSync(file, { force: true });
  });
  return {
    harness: () => h!,
    records: () =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line) as AuditRecord)
        : [],
  };
}
