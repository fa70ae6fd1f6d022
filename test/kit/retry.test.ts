import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isAmbiguous,
  isRetryable,
  isTransient,
  parseRetryAfter,
  type Repeat,
  wasNotProcessed,
} from '../../src/kit/retry';

const attempt1 = { attempt: 1 };
const ambiguousFailures = [
  { status: 500 },
  { status: 502 },
  { status: 503 },
  { errorCode: 'ETIMEDOUT' },
  { errorCode: 'ECONNABORTED' },
  { errorCode: 'ECONNRESET' },
  { errorCode: 'EPIPE' },
];

describe('isRetryable: ambiguous failures are repeated as the request declares', () => {
  it.each<Repeat>(['idempotent', 'uniqueName'])(
    'a %s request is repeated after a 5xx, a timeout or a reset',
    (repeat) => {
      for (const f of ambiguousFailures) expect(isRetryable({ repeat, ...f, ...attempt1 })).toBe(true);
    },
  );

  it('a request declared once (a webhook creation, the OAuth refresh) is never repeated after one', () => {
    for (const f of ambiguousFailures) expect(isRetryable({ repeat: 'once', ...f, ...attempt1 })).toBe(false);
  });

  it.each<Repeat>(['idempotent', 'uniqueName', 'once'])(
    'a %s request is repeated when Kit did not process it (429, refused connection)',
    (repeat) => {
      expect(isRetryable({ repeat, status: 429, ...attempt1 })).toBe(true);
      expect(isRetryable({ repeat, errorCode: 'ECONNREFUSED', ...attempt1 })).toBe(true);
      expect(isRetryable({ repeat, errorCode: 'ENOTFOUND', ...attempt1 })).toBe(true);
    },
  );

  it('413 is Kit’s bulk queue being full only for a queued request', () => {
    expect(isRetryable({ repeat: 'idempotent', queued: true, status: 413, ...attempt1 })).toBe(true);
    expect(isRetryable({ repeat: 'idempotent', status: 413, ...attempt1 })).toBe(false);
    expect(wasNotProcessed({ queued: true, status: 413 })).toBe(true);
    expect(isTransient({ status: 413 })).toBe(false);
  });

  it('never retries answers that would not change (4xx other than 429)', () => {
    for (const status of [400, 401, 403, 404, 409, 422]) {
      expect(isRetryable({ repeat: 'idempotent', status, ...attempt1 })).toBe(false);
    }
  });

  it('stops at maxAttempts', () => {
    const f = { repeat: 'idempotent' as const, status: 500 };
    expect(isRetryable({ ...f, attempt: DEFAULT_RETRY_POLICY.maxAttempts - 1 })).toBe(true);
    expect(isRetryable({ ...f, attempt: DEFAULT_RETRY_POLICY.maxAttempts })).toBe(false);
    expect(isRetryable({ ...f, attempt: 2, maxAttempts: 2 })).toBe(false);
  });

  it('classifies which failures Kit may have applied', () => {
    expect(isAmbiguous({ status: 500 })).toBe(true);
    expect(isAmbiguous({ status: 429 })).toBe(false);
    expect(isAmbiguous({ errorCode: 'ECONNREFUSED' })).toBe(false);
    expect(isAmbiguous({ errorCode: 'ECONNRESET' })).toBe(true);
  });
});

describe('backoffMs', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('honours Retry-After exactly, whatever the attempt', () => {
    expect(backoffMs(1, 2000, () => 0.5, policy)).toBe(2000);
    expect(backoffMs(7, 30_000, () => 0.5, policy)).toBe(30_000);
    expect(backoffMs(1, 0, () => 0.9, policy)).toBe(0);
  });

  it('grows exponentially with jitter in the upper half, capped', () => {
    expect(backoffMs(1, undefined, () => 0, policy)).toBe(50);
    expect(backoffMs(1, undefined, () => 1, policy)).toBe(100);
    expect(backoffMs(2, undefined, () => 0, policy)).toBe(100);
    expect(backoffMs(3, undefined, () => 1, policy)).toBe(400);
    expect(backoffMs(10, undefined, () => 1, policy)).toBe(1000);
    expect(backoffMs(10, undefined, () => 0, policy)).toBe(500);
  });

  it('stays within bounds for any random draw', () => {
    for (let attempt = 1; attempt < 12; attempt++) {
      for (const r of [0, 0.13, 0.5, 0.77, 0.999, 1]) {
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        const d = backoffMs(attempt, undefined, () => r, policy);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('draws different delays for different random values (jitter)', () => {
    expect(backoffMs(3, undefined, () => 0.1, policy)).not.toBe(backoffMs(3, undefined, () => 0.9, policy));
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 1 ', now)).toBe(1000);
  });
  it('reads an HTTP-date', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
  });
});
