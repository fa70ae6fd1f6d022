import { ConfigError, loadConfig } from '../../src/config/environment';
import { StatusBoard, MINUTES_KEPT, OPERATIONS_KEPT } from '../../src/status/statusBoard';
import { StatusSessions } from '../../src/status/statusSession';
import { budgetChart } from '../../src/status/render';
import type { AuditEntry } from '../../src/platform/audit';
import { type RequestScope, runInRequestScope } from '../../src/platform/requestScope';
import { ManualClock } from '../support/clock';

const START = Date.UTC(2030, 0, 1, 12, 0, 0);

function entry(i: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    requestId: `r${i}`,
    actor: 'okta',
    operation: 'create',
    resourceType: 'User',
    resourceId: String(i),
    outcome: 'success',
    status: 201,
    kitCalls: [
      { endpoint: 'GET /v4/subscribers', status: 200 },
      { endpoint: 'POST /v4/subscribers', status: 201 },
    ],
    ...extra,
  };
}

describe('StatusBoard', () => {
  it('counts Kit calls per minute by lane, with waits, queue peaks, 429s and retries', async () => {
    const clock = new ManualClock(START);
    const board = new StatusBoard(clock);
    board.kitCallStarted('interactive', 10);
    board.kitCallStarted('background', 30);
    board.kitCallStarted('webhook', 0);
    board.queueDepth(4);
    board.queueDepth(2);
    board.kitCallAnswered({ method: 'GET', endpoint: 'GET /v4/account', status: 429, durationMs: 5, attempt: 1 });
    board.kitCallStarted('retry', 1000);
    board.kitCallAnswered({ method: 'GET', endpoint: 'GET /v4/account', status: 200, durationMs: 5, attempt: 2 });
    await clock.advance(60_000);
    board.kitCallStarted('interactive', 0);

    const { minutes } = board.snapshot();
    expect(minutes).toHaveLength(MINUTES_KEPT);
    const [previous, current] = minutes.slice(-2);
    expect(previous).toMatchObject({
      startsAt: START,
      calls: { interactive: 1, background: 1, webhook: 1, retry: 1 },
      rateLimited: 1,
      retries: 1,
      peakQueueDepth: 4,
      waits: 4,
      totalWaitMs: 1040,
      maxWaitMs: 1000,
    });
    expect(current.calls).toEqual({ retry: 0, interactive: 1, background: 0, webhook: 0 });
    expect(minutes[0].startsAt).toBe(START + 60_000 - (MINUTES_KEPT - 1) * 60_000);
  });

  it('forgets minutes older than an hour, even when the ring slot is reused', async () => {
    const clock = new ManualClock(START);
    const board = new StatusBoard(clock);
    board.kitCallStarted('interactive', 0);
    await clock.advance(MINUTES_KEPT * 60_000);
    const { minutes } = board.snapshot();
    expect(minutes.every((m) => m.calls.interactive === 0)).toBe(true);
  });

  it('keeps the last 50 operations, newest first, without the audit detail (it can name an email)', () => {
    const board = new StatusBoard(new ManualClock(START));
    const trailed: AuditEntry[] = [];
    const trail = board.auditTrail({ record: (e) => trailed.push(e) });
    for (let i = 1; i <= 60; i++) trail.record(entry(i));
    trail.record(
      entry(61, {
        operation: 'reactivationRejected',
        resourceId: undefined,
        outcome: 'failure',
        status: 400,
        detail: 'reactivation of ada@example.com refused: Kit cannot reactivate through its API',
      }),
    );
    trail.record(entry(62, { resourceType: 'Group', detail: '3 members skipped (not users): 7, 8, 9', kitCalls: [] }));
    expect(trailed).toHaveLength(62);
    const s = board.snapshot();
    expect(s.operations).toHaveLength(OPERATIONS_KEPT);
    expect(s.operations[0]).toMatchObject({ resourceType: 'Group', skippedMembers: 3, kitCalls: 0 });
    expect(s.operations[1]).toMatchObject({ operation: 'reactivationRejected', reactivationRefused: true });
    expect(s.operations[2]).toMatchObject({ resourceId: '60', kitCalls: 2, failedKitCalls: 0 });
    expect(s.operations.at(-1)!.resourceId).toBe('13');
    expect(JSON.stringify(s)).not.toContain('ada@example.com');
    expect(s.totals).toEqual({
      reactivationRefusals: 1,
      skippedMembers: 3,
      operations: 62,
      deprovisions: 0,
      webhookDeliveriesDropped: { over_budget: 0, pending_full: 0 },
    });
  });

  it('folds a refused reactivation and the write it refused into one row, with the SCIM error', () => {
    const board = new StatusBoard(new ManualClock(START));
    const trail = board.auditTrail();
    trail.record(
      entry(1, {
        operation: 'reactivationRejected',
        resourceId: undefined,
        outcome: 'failure',
        status: 400,
        detail: 'reactivation of ada@example.com refused: Kit cannot reactivate through its API',
      }),
    );
    trail.record(
      entry(1, {
        operation: 'patch',
        resourceId: '42',
        outcome: 'failure',
        status: 400,
        scimType: 'mutability',
        detail: 'ada@example.com cannot be reactivated: Kit has no API for it',
      }),
    );
    const s = board.snapshot();
    expect(s.operations).toHaveLength(1);
    expect(s.operations[0]).toMatchObject({
      operation: 'patch',
      resourceId: '42',
      reactivationRefused: true,
      scimType: 'mutability',
      errorDetail: '‹address› cannot be reactivated: Kit has no API for it',
    });
    expect(s.totals).toMatchObject({ operations: 1, reactivationRefusals: 1 });
    expect(JSON.stringify(s)).not.toContain('ada@example.com');
  });

  it('keeps a refusal and a failure of another request apart, and no error on a success', () => {
    const board = new StatusBoard(new ManualClock(START));
    const trail = board.auditTrail();
    trail.record(entry(1, { operation: 'reactivationRejected', outcome: 'failure', status: 409 }));
    trail.record(entry(2, { outcome: 'failure', status: 409, scimType: 'uniqueness', detail: 'taken' }));
    trail.record(entry(3, { detail: '0 members skipped', scimType: 'invalidValue' }));
    const s = board.snapshot();
    expect(s.operations.map((o) => o.operation)).toEqual(['create', 'create', 'reactivationRejected']);
    expect(s.operations[0].scimType).toBeUndefined();
    expect(s.operations[0].errorDetail).toBeUndefined();
    expect(s.operations[1]).toMatchObject({ scimType: 'uniqueness', errorDetail: 'taken', reactivationRefused: false });
  });

  it('marks and counts deprovisions: the users resource names them within the request, the audit entry follows', () => {
    const board = new StatusBoard(new ManualClock(START));
    const trail = board.auditTrail();
    const scope = (requestId: string, fn: () => void) =>
      runInRequestScope({ requestId, kitCalls: [] } satisfies RequestScope, fn);
    scope('r1', () => {
      board.deprovisioned('deactivate');
      trail.record(entry(1, { operation: 'patch', status: 200 }));
    });
    scope('r2', () => {
      board.deprovisioned('delete');
      trail.record(entry(2, { operation: 'delete', status: 204 }));
    });
    scope('r3', () => trail.record(entry(3, { operation: 'patch', status: 200 })));
    const s = board.snapshot();
    expect(s.operations.map((o) => o.deprovisioned)).toEqual([undefined, 'delete', 'deactivate']);
    expect(s.totals.deprovisions).toBe(2);
  });

  it('counts dropped Kit webhook deliveries by reason, since start', () => {
    const board = new StatusBoard(new ManualClock(START));
    board.webhookDeliveryDropped('over_budget');
    board.webhookDeliveryDropped('over_budget');
    board.webhookDeliveryDropped('pending_full');
    expect(board.snapshot().totals.webhookDeliveriesDropped).toEqual({ over_budget: 2, pending_full: 1 });
  });

  it('draws a bar for a minute with a few calls against a large budget, and escapes what it prints', () => {
    const board = new StatusBoard(new ManualClock(START));
    board.kitCallStarted('interactive', 0);
    const svg = budgetChart(board.snapshot().minutes, 36_000);
    expect(svg).toMatch(/<rect class="kit-calls" data-priority="interactive" data-calls="1"[^>]* height="1\.0"/);
    expect(svg).toMatch(/budget: 36000 calls per minute/);
  });
});

describe('StatusSessions', () => {
  const tokens = [
    { name: 'okta', token: 'a'.repeat(40), readOnly: false },
    { name: 'iga', token: 'b'.repeat(40), readOnly: true },
  ];

  it('accepts its own cookie until it expires', async () => {
    const clock = new ManualClock(START);
    const sessions = new StatusSessions(tokens, { ttlSeconds: 60, clock });
    const cookie = sessions.issue(sessions.match('b'.repeat(40))!);
    expect(sessions.verify(cookie)).toEqual({ name: 'iga', readOnly: true, expiresAt: START + 60_000 });
    await clock.advance(59_000);
    expect(sessions.verify(cookie)).toBeDefined();
    await clock.advance(1_000);
    expect(sessions.verify(cookie)).toBeUndefined();
  });

  it('refuses cookies signed for a token that is no longer configured, or with another signature', () => {
    const clock = new ManualClock(START);
    const cookie = new StatusSessions(tokens, { ttlSeconds: 60, clock }).issue(tokens[0]);
    const rotated = new StatusSessions([{ ...tokens[0], token: 'c'.repeat(40) }], { ttlSeconds: 60, clock });
    expect(rotated.verify(cookie)).toBeUndefined();
    const sessions = new StatusSessions(tokens, { ttlSeconds: 60, clock });
    expect(sessions.verify(`${cookie.split('.')[0]}.${'A'.repeat(43)}`)).toBeUndefined();
    expect(sessions.verify('no-dot')).toBeUndefined();
    expect(sessions.verify(`${'x'.repeat(2000)}.y`)).toBeUndefined();
    expect(sessions.match('a'.repeat(39))).toBeUndefined();
  });
});

describe('STATUS_SESSION_TTL_SECONDS', () => {
  const base = { KIT_API_KEY: 'kit_0123456789abcdef', SCIM_BEARER_TOKENS: `okta=${'a'.repeat(40)}` };

  it('defaults to 15 minutes and refuses more than a day, naming the variable', () => {
    expect(loadConfig(base).status.sessionTtlSeconds).toBe(900);
    expect(loadConfig({ ...base, STATUS_SESSION_TTL_SECONDS: '60' }).status.sessionTtlSeconds).toBe(60);
    expect(() => loadConfig({ ...base, STATUS_SESSION_TTL_SECONDS: '86401' })).toThrow(
      /STATUS_SESSION_TTL_SECONDS: .*at most 86400/,
    );
    expect(() => loadConfig({ ...base, STATUS_SESSION_TTL_SECONDS: 'soon' })).toThrow(ConfigError);
  });
});
