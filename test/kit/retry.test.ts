import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  isAmbiguous,
  isRetryable,
  parseRetryAfter,
  SAFE_TO_REPEAT,
  wasNotProcessed,
} from '../../src/kit/retry';

const attempt1 = { attempt: 1 };

describe('isRetryable: ambiguous failures only for calls safe to repeat', () => {
  const safe = [
    ['GET', 'GET /v4/subscribers'],
    ['GET', 'GET /v4/subscribers/:id'],
    ['PUT', 'PUT /v4/subscribers/:id'],
    ['PUT', 'PUT /v4/tags/:id'],
    ['POST', 'POST /v4/subscribers/:id/unsubscribe'],
    ['POST', 'POST /v4/tags/:tag_id/subscribers/:id'],
    ['DELETE', 'DELETE /v4/tags/:tag_id/subscribers/:id'],
    ['POST', 'POST /v4/bulk/tags/subscribers'],
    ['POST', 'POST /v4/bulk/subscribers'],
    ['POST', 'POST /v4/subscribers'],
    ['POST', 'POST /v4/tags'],
    ['POST', 'POST /v4/custom_fields'],
  ] as const;
  const unsafe = [
    ['POST', 'POST /oauth/token'],
    ['POST', 'POST /v4/broadcasts'],
    ['DELETE', 'DELETE /v4/webhooks/:id'],
  ] as const;

  it.each(safe)('%s %s is retried after 500, 503, a timeout and a reset', (method, endpoint) => {
    for (const f of [
      { status: 500 },
      { status: 503 },
      { errorCode: 'ETIMEDOUT' },
      { errorCode: 'ECONNABORTED' },
      { errorCode: 'ECONNRESET' },
      { errorCode: 'EPIPE' },
    ]) {
      expect(isRetryable({ method, endpoint, ...f, ...attempt1 })).toBe(true);
    }
  });

  it.each(unsafe)('%s %s is not repeated after an ambiguous failure', (method, endpoint) => {
    for (const f of [{ status: 500 }, { status: 502 }, { errorCode: 'ETIMEDOUT' }, { errorCode: 'ECONNRESET' }]) {
      expect(isRetryable({ method, endpoint, ...f, ...attempt1 })).toBe(false);
    }
  });

  it.each(unsafe)('%s %s is repeated when Kit did not process it (429, refused connection)', (method, endpoint) => {
    expect(isRetryable({ method, endpoint, status: 429, ...attempt1 })).toBe(true);
    expect(isRetryable({ method, endpoint, errorCode: 'ECONNREFUSED', ...attempt1 })).toBe(true);
  });

  it('413 is Kit’s bulk queue being full only on bulk routes', () => {
    expect(isRetryable({ method: 'POST', endpoint: 'POST /v4/bulk/subscribers', status: 413, ...attempt1 })).toBe(true);
    expect(isRetryable({ method: 'PUT', endpoint: 'PUT /v4/subscribers/:id', status: 413, ...attempt1 })).toBe(false);
    expect(wasNotProcessed({ endpoint: 'POST /v4/bulk/tags/subscribers', status: 413 })).toBe(true);
  });

  it('never retries answers that would not change (4xx other than 429)', () => {
    for (const status of [400, 401, 403, 404, 409, 422]) {
      expect(isRetryable({ method: 'GET', endpoint: 'GET /v4/subscribers/:id', status, ...attempt1 })).toBe(false);
    }
  });

  it('stops at maxAttempts', () => {
    const f = { method: 'GET', endpoint: 'GET /v4/account', status: 500 };
    expect(isRetryable({ ...f, attempt: DEFAULT_RETRY_POLICY.maxAttempts - 1 })).toBe(true);
    expect(isRetryable({ ...f, attempt: DEFAULT_RETRY_POLICY.maxAttempts })).toBe(false);
    expect(isRetryable({ ...f, attempt: 2, maxAttempts: 2 })).toBe(false);
  });

  it('the table names every non-GET route the client calls except the token endpoint', () => {
    expect(SAFE_TO_REPEAT.has('POST /oauth/token')).toBe(false);
    expect([...SAFE_TO_REPEAT].every((e) => !e.startsWith('GET '))).toBe(true);
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
