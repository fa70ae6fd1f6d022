import { KitLimiterUnavailableError, KitUnavailableError, KitWritePendingError } from '../../src/kit/errors';
import { toScimError } from '../../src/http/errorTable';

// The one table: which failure becomes which SCIM answer. Only what the table decides is checked here; the
// HTTP suites check the bodies clients see.

describe('errors of the shared limiter', () => {
  it('a limiter that cannot book answers 503 with Retry-After, naming the limiter and not Kit', () => {
    const e = toScimError(new KitLimiterUnavailableError('Command timed out'));
    expect(e.status).toBe(503);
    expect(e.retryAfterSeconds).toBe(5);
    expect(e.message).toMatch(/shared rate limiter \(Redis\)/);
    expect(e.message).toMatch(/nothing was sent to Kit/);
    expect(e.message).not.toMatch(/Kit is unavailable/);
  });

  it('Kit itself being away still says so', () => {
    const e = toScimError(new KitUnavailableError('boom', { status: 502, retryAfterMs: 2500 }));
    expect(e.status).toBe(503);
    expect(e.retryAfterSeconds).toBe(3);
    expect(e.message).toMatch(/Kit is unavailable \(502\)/);
  });
});

describe('a write Kit applies later (Kit v3 202)', () => {
  it('answers 503 with Retry-After, saying the change is safe to repeat, not that Kit is away', () => {
    const e = toScimError(new KitWritePendingError('pending', { status: 202, retryAfterMs: 5000 }));
    expect(e.status).toBe(503);
    expect(e.retryAfterSeconds).toBe(5);
    expect(e.message).toMatch(/applies it later/);
    expect(e.message).toMatch(/safe to repeat/);
    expect(e.message).not.toMatch(/Kit is unavailable/);
  });
});
