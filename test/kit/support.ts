import { randomBytes } from 'node:crypto';
import { KitClient, type KitClientOptions } from '../../src/kit/client';
import { createKitLimiter, type KitLimiter } from '../../src/kit/limiter';
import type { KitCallRecord } from '../../src/kit/types';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';

// A KitClient wired to a sandbox, recording every exchange and every backoff instead of sleeping through it.

export const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let seq = 0;
export const uniqueId = (name: string) => `${name}-${process.pid}-${randomBytes(4).toString('hex')}-${++seq}`;

export interface Harness {
  client: KitClient;
  limiter: KitLimiter;
  records: KitCallRecord[];
  delays: number[];
}

export function harness(
  sb: KitSandbox,
  opts: Partial<KitClientOptions> & { budget?: number; windowMs?: number; safetyMs?: number } = {},
): Harness {
  const { budget = 120, windowMs = 1000, safetyMs, ...clientOpts } = opts;
  const limiter = createKitLimiter({ id: uniqueId('kit-test'), budget, windowMs, safetyMs });
  const records: KitCallRecord[] = [];
  const delays: number[] = [];
  const client = new KitClient({
    baseUrl: sb.url,
    credentials: { kind: 'apiKey', apiKey: sb.apiKey },
    limiter,
    onCall: (r) => records.push(r),
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    retry: { baseDelayMs: 10, maxDelayMs: 100 },
    ...clientOpts,
  });
  return { client, limiter, records, delays };
}

/** Strings that must never leave the adapter, checked in an error's message, JSON, stack and cause. */
export function expectNoSecrets(err: unknown, secrets: string[]): void {
  const e = err as Error & { cause?: unknown };
  const surfaces = [
    e.message,
    JSON.stringify(e),
    String(e.stack),
    e.cause === undefined ? '' : `${String(e.cause)} ${JSON.stringify(e.cause)} ${(e.cause as Error).stack ?? ''}`,
  ].join('\n');
  for (const s of secrets) expect(surfaces).not.toContain(s);
  // An axios error carries the request config (headers included); it must never be the cause.
  expect((e.cause as { config?: unknown } | undefined)?.config).toBeUndefined();
}
