import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type AuditEntry, AuditLog, requestAuditEntry } from '../../src/platform/audit';
import { noteForAudit, runInRequestScope } from '../../src/platform/requestScope';
import { stampClock } from '../support/clock';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const NOW = Date.UTC(2030, 5, 1, 8, 30, 0);

const deactivate: AuditEntry = {
  requestId: 'req-1',
  actor: 'okta',
  operation: 'deactivate',
  resourceType: 'User',
  resourceId: '2871',
  outcome: 'success',
  status: 200,
  kitCalls: [
    { endpoint: 'GET /v4/subscribers/:id', status: 200 },
    { endpoint: 'POST /v4/subscribers/:id/unsubscribe', status: 204 },
  ],
};

function readLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('AuditLog', () => {
  it('appends one JSON line per record to a file', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const audit = new AuditLog(file, { clock: stampClock(() => NOW) });
    audit.record(deactivate);
    audit.record({
      ...deactivate,
      requestId: 'req-2',
      operation: 'reactivationRejected',
      outcome: 'failure',
      status: 400,
      kitCalls: [{ endpoint: 'GET /v4/subscribers/:id', status: 'error' }],
      detail: 'Kit cannot reactivate an unsubscribed subscriber through its API',
      at: '2030-06-01T09:00:00.000Z',
    });
    await audit.close();

    const lines = readLines(file);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({
      type: 'audit',
      at: '2030-06-01T08:30:00.000Z',
      requestId: 'req-1',
      actor: 'okta',
      operation: 'deactivate',
      resourceType: 'User',
      resourceId: '2871',
      outcome: 'success',
      status: 200,
      kitCalls: deactivate.kitCalls,
    });
    expect(lines[1]).toMatchObject({
      at: '2030-06-01T09:00:00.000Z',
      operation: 'reactivationRejected',
      outcome: 'failure',
      kitCalls: [{ endpoint: 'GET /v4/subscribers/:id', status: 'error' }],
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('appends to an existing trail rather than replacing it', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const first = new AuditLog(file);
    first.record(deactivate);
    await first.close();
    const second = new AuditLog(file);
    second.record({ ...deactivate, requestId: 'req-after-restart' });
    await second.close();
    expect(readLines(file).map((l) => l.requestId)).toEqual(['req-1', 'req-after-restart']);
  });

  it('masks a configured secret however short', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const audit = new AuditLog(file, { knownSecrets: ['k7Zq2'] });
    audit.record({ ...deactivate, detail: 'Kit refused key k7Zq2 (see k7Zq2x, not a secret)' });
    await audit.close();
    expect(readLines(file)[0].detail).toBe('Kit refused key [REDACTED] (see k7Zq2x, not a secret)');
  });

  it('keeps only the known fields and masks credentials in free text', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const audit = new AuditLog(file, { knownSecrets: ['okta-static-token-7Hq2LmX9'] });
    const sneaky = {
      ...deactivate,
      detail: 'upstream said: Bearer abcdefghijkl and okta-static-token-7Hq2LmX9',
      headers: { authorization: 'Bearer leaked' },
      body: { password: 'hunter2' },
      kitCalls: [{ endpoint: 'GET /v4/account', status: 200, url: 'https://api.convertkit.com/v4?api_key=x' }],
    } as unknown as AuditEntry;
    audit.record(sneaky);
    await audit.close();
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('abcdefghijkl');
    expect(text).not.toContain('okta-static-token-7Hq2LmX9');
    expect(text).not.toContain('leaked');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('api_key');
    expect(readLines(file)[0].detail).toBe('upstream said: Bearer [REDACTED] and [REDACTED]');
  });

  it('writes to stdout as one JSON line per record', async () => {
    const chunks: string[] = [];
    const stdout = new Writable({
      write(chunk, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const audit = new AuditLog('stdout', { stdout, clock: stampClock(() => NOW) });
    audit.record(deactivate);
    audit.record({ ...deactivate, operation: 'delete', requestId: 'req-3' });
    await audit.close();
    const text = chunks.join('');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1])).toMatchObject({ type: 'audit', operation: 'delete', requestId: 'req-3' });
    expect(stdout.writable).toBe(true);
  });

  it('fails at construction for a path it cannot write', () => {
    expect(() => new AuditLog(path.join(dir, 'missing-dir', 'audit.jsonl'))).toThrow(/ENOENT/);
  });

  it('reports records after close instead of throwing', async () => {
    const errors: string[] = [];
    const file = path.join(dir, 'audit.jsonl');
    const audit = new AuditLog(file, { onError: (e) => errors.push(e.message) });
    await audit.close();
    audit.record(deactivate);
    expect(errors).toEqual([expect.stringMatching(/after close/)]);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });
});

describe('requestAuditEntry', () => {
  it("adds the request's audit notes to the event's detail, and nothing outside a request", () => {
    const scope = { requestId: 'r1', kitCalls: [] };
    const entry = runInRequestScope(scope, () => {
      noteForAudit('unmapped attributes ignored: locale');
      return requestAuditEntry({ operation: 'patch', resourceType: 'User', resourceId: '7', status: 200 });
    });
    expect(entry).toMatchObject({ requestId: 'r1', outcome: 'success', detail: 'unmapped attributes ignored: locale' });
    const failed = runInRequestScope(scope, () =>
      requestAuditEntry({ operation: 'patch', resourceType: 'User', status: 404, detail: 'User 7 not found' }),
    );
    expect(failed.detail).toBe('User 7 not found; unmapped attributes ignored: locale');
    noteForAudit('outside any request');
    expect(requestAuditEntry({ operation: 'patch', resourceType: 'User', status: 200 }).detail).toBeUndefined();
  });
});
