import { z } from 'zod';
import { KitCaller, type PlainRequest, type UniqueNameRequest } from '../../src/kit/caller';
import {
  KitAuthError,
  KitNotFoundError,
  KitRateLimitedError,
  KitRequestError,
  KitUnavailableError,
  KitUnreadableAnswerError,
  KitValidationError,
} from '../../src/kit/errors';
import { createKitLimiter, type KitLimiter } from '../../src/kit/limiter';
import type { HttpExchange } from '../../src/kit/request';
import type { Outcome } from '../../src/kit/transport';
import { sleepOn } from '../../src/platform/clock';
import { ManualClock, settle } from '../support/clock';

// KitCaller over a scripted transport and the real limiter on a manual clock: one logical call becomes as many
// exchanges as the request's declaration (repeat) and Kit's answers allow, waits what Retry-After says on the
// clock, and ends in the typed Kit error of its last failure.

const API_KEY = 'kit-test-key-0123456789';

/** Answers each exchange with the next scripted outcome, and records what was sent. */
class ScriptedTransport {
  readonly sent: Array<{ path: string; headers: Record<string, string>; attempt: number; at: number }> = [];

  constructor(
    private readonly clock: ManualClock,
    private readonly script: Outcome[],
  ) {}

  async send(req: HttpExchange, headers: Record<string, string>, attempt: number): Promise<Outcome> {
    this.sent.push({ path: req.path, headers, attempt, at: this.clock.now() });
    const next = this.script.shift();
    if (!next) throw new Error('the script ran out of answers');
    return next;
  }
}

const ok = (data: unknown, status = 200): Outcome => ({ kind: 'response', status, data, headers: {} });
const fail = (status: number, headers: Record<string, string> = {}, errors?: string[]): Outcome => ({
  kind: 'response',
  status,
  data: errors ? { errors } : {},
  headers,
});
const network = (code: string): Outcome => ({ kind: 'network', code, detail: `${code} talking to Kit` });

const answer = z.object({ ok: z.boolean() });
const request = (repeat: 'idempotent' | 'once'): PlainRequest<{ ok: boolean }> => ({
  method: 'POST',
  endpoint: 'POST /v4/things',
  path: '/v4/things',
  body: {},
  repeat,
  answer,
});

let clock: ManualClock;
let limiter: KitLimiter;

function callerWith(script: Outcome[], extra: { maxWaitMs?: number } = {}) {
  const transport = new ScriptedTransport(clock, script);
  const caller = new KitCaller({
    baseUrl: 'https://kit.invalid',
    credentials: { kind: 'apiKey', apiKey: API_KEY },
    limiter,
    transport,
    sleep: (ms) => sleepOn(clock, ms),
    // The middle of the jitter range: backoff delays are exact.
    random: () => 0.5,
    now: () => clock.now(),
    ...extra,
  });
  return { caller, transport };
}

/** The call's outcome, caught so the test can move the clock while it runs. */
function started<T>(work: Promise<T>) {
  const outcome: { value?: T; error?: unknown; done: boolean } = { done: false };
  void work.then(
    (value) => Object.assign(outcome, { value, done: true }),
    (error) => Object.assign(outcome, { error, done: true }),
  );
  return outcome;
}

/** Runs the call to its end, moving the clock as far as its waits (and the limiter's slots) need. */
async function drive<T>(work: Promise<T>): Promise<T> {
  const outcome = started(work);
  await clock.runAll();
  if (!outcome.done) throw new Error('the call did not end');
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.value as T;
}

beforeEach(() => {
  clock = new ManualClock();
  // A window whose spacing (5 ms) stays below every wait these tests look at.
  limiter = createKitLimiter({ id: 'caller-unit', budget: 120, windowMs: 600, safetyMs: 0, clock });
});

afterEach(async () => {
  await limiter.stop();
});

describe('KitCaller answers', () => {
  it('parses a 2xx with the request schema, sent once with the credential', async () => {
    const { caller, transport } = callerWith([ok({ ok: true })]);
    await expect(drive(caller.call(request('once')))).resolves.toEqual({
      status: 200,
      data: { ok: true },
      ambiguousBefore: false,
    });
    expect(transport.sent).toHaveLength(1);
    expect(transport.sent[0].headers).toMatchObject({ 'X-Kit-Api-Key': API_KEY });
  });

  it('refuses a 2xx body that is not the documented shape, naming where, not the values', async () => {
    const { caller, transport } = callerWith([ok({ ok: 'secret-value' })]);
    const err = await drive(caller.call(request('idempotent'))).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnreadableAnswerError);
    expect(err.message).toMatch(/ok: invalid_type/);
    expect(err.message).not.toMatch(/secret-value/);
    expect(transport.sent).toHaveLength(1);
  });

  it.each([
    [404, KitNotFoundError],
    [422, KitValidationError],
    [401, KitAuthError],
    [400, KitRequestError],
  ])('answers Kit %s with its typed error at once, carrying Kit’s messages', async (status, type) => {
    const { caller, transport } = callerWith([fail(status, {}, ['Kit says no'])]);
    const err = await drive(caller.call(request('idempotent'))).catch((e) => e);
    expect(err).toBeInstanceOf(type);
    expect(err).toMatchObject({ status, errors: ['Kit says no'], endpoint: 'POST /v4/things' });
    expect(transport.sent).toHaveLength(1);
  });

  it('answers a status the caller accepts as a refusal, not an error', async () => {
    const { caller } = callerWith([fail(404)]);
    await expect(drive(caller.callAccepting(request('idempotent'), undefined, (s) => s === 404))).resolves.toEqual({
      status: 404,
      refused: {},
      ambiguousBefore: false,
    });
  });
});

describe('KitCaller retries', () => {
  it("waits Kit's Retry-After on the clock before repeating an idempotent request after a 503", async () => {
    const { caller, transport } = callerWith([fail(503, { 'retry-after': '2' }), ok({ ok: true })]);
    const outcome = started(caller.call(request('idempotent')));
    await clock.advance(0);
    expect(transport.sent).toHaveLength(1);

    await clock.advance(1999);
    expect(transport.sent).toHaveLength(1);
    await clock.advance(1);
    await settle();

    expect(transport.sent.map((s) => s.attempt)).toEqual([1, 2]);
    expect(transport.sent[1].at - transport.sent[0].at).toBe(2000);
    // Kit may have applied the first attempt: the answer says so.
    expect(outcome).toMatchObject({ done: true, value: { status: 200, ambiguousBefore: true } });
  });

  it('never repeats a request declared once after an ambiguous failure', async () => {
    const { caller, transport } = callerWith([fail(502), ok({ ok: true })]);
    const err = await drive(caller.call(request('once'))).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(transport.sent).toHaveLength(1);
  });

  it('repeats even a once request after a 429 (Kit did nothing), pausing every caller of the credential', async () => {
    const { caller, transport } = callerWith([fail(429, { 'retry-after': '5' }), ok({ ok: true })]);
    const other = callerWith([ok({ ok: true })]);
    const outcome = started(caller.call(request('once')));
    await settle();
    const bystander = started(other.caller.call(request('once')));
    await clock.advance(4999);
    expect(transport.sent).toHaveLength(1);
    expect(other.transport.sent).toHaveLength(0);

    await clock.runAll();
    expect(outcome).toMatchObject({ done: true, value: { ambiguousBefore: false } });
    expect(bystander.done).toBe(true);
    expect(transport.sent[1].at - transport.sent[0].at).toBeGreaterThanOrEqual(5000);
    // The retry goes first once the pause ends.
    expect(transport.sent[1].at).toBeLessThanOrEqual(other.transport.sent[0].at);
  });

  it('repeats a connection that never reached Kit even for a once request, with jittered backoff', async () => {
    const { caller, transport } = callerWith([network('ECONNREFUSED'), network('ECONNREFUSED'), ok({ ok: true })]);
    const outcome = started(caller.call(request('once')));
    await clock.runAll();
    expect(outcome.done).toBe(true);
    // Backoff from the middle of [base/2, base]: 375 ms, then 750 ms (the base doubles).
    expect(transport.sent.map((s) => s.at - transport.sent[0].at)).toEqual([0, 375, 1125]);
  });

  it('gives up after the policy’s attempts with the last failure’s error', async () => {
    const { caller, transport } = callerWith([fail(500), fail(500), fail(500), fail(500), ok({ ok: true })]);
    const outcome = started(caller.call(request('idempotent')));
    await clock.runAll();
    expect(outcome.error).toBeInstanceOf(KitUnavailableError);
    expect(transport.sent).toHaveLength(4);
  });

  it("refuses at once when Retry-After lies beyond the caller's deadline, with a Retry-After of its own", async () => {
    const { caller, transport } = callerWith([fail(503, { 'retry-after': '30' }), ok({ ok: true })], {
      maxWaitMs: 10_000,
    });
    const err = await drive(caller.call(request('idempotent'))).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(err.retryAfterMs).toBe(30_000);
    expect(transport.sent).toHaveLength(1);
  });

  it('answers a 429 it may not wait out as the typed rate-limit error', async () => {
    const { caller } = callerWith([fail(429, { 'retry-after': '60' })], { maxWaitMs: 1000 });
    const err = await drive(caller.call(request('idempotent'))).catch((e) => e);
    expect(err).toBeInstanceOf(KitRateLimitedError);
    expect(err.retryAfterMs).toBe(60_000);
  });
});

describe('KitCaller.createOrFind', () => {
  const create: UniqueNameRequest<{ ok: boolean }> = { ...request('once'), repeat: 'uniqueName' };
  const taken = () => fail(422, {}, ['Name has already been taken']);

  it('finds the thing another replica created under the same name', async () => {
    const { caller } = callerWith([taken()]);
    await expect(drive(caller.createOrFind(create, undefined, async () => ({ ok: false }), 'find'))).resolves.toEqual({
      item: { ok: false },
      created: false,
    });
  });

  it('takes the name as its own after its first attempt was lost (the repeat found it taken)', async () => {
    const { caller, transport } = callerWith([network('ETIMEDOUT'), taken()]);
    const outcome = started(caller.createOrFind(create, undefined, async () => ({ ok: true }), 'own'));
    await clock.runAll();
    expect(outcome.value).toEqual({ item: { ok: true }, created: true });
    expect(transport.sent).toHaveLength(2);
  });

  it('refuses a name taken by someone else when the name must be its own', async () => {
    const { caller } = callerWith([taken()]);
    const lookup = jest.fn(async () => ({ ok: true }));
    const err = await drive(caller.createOrFind(create, undefined, lookup, 'own')).catch((e) => e);
    expect(err).toBeInstanceOf(KitValidationError);
    expect(err.isUniquenessClash).toBe(true);
    expect(lookup).not.toHaveBeenCalled();
  });
});
