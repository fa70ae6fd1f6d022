import { createHash } from 'node:crypto';

// What the sandbox saw, so tests and benchmarks can assert "one Kit call per 1,000 users" and the like. Counts
// every call that reached a Kit route, whatever it was answered (401, 429, injected 500...). `endpoint` is the
// route pattern, never a concrete URL. A dropped connection is recorded with status 0.

export interface CallRecord {
  at: number;
  credential: string;
  endpoint: string;
  status: number;
}

export interface CallStats {
  total: number;
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  log: CallRecord[];
}

export const CALL_LOG_LIMIT = 50_000;

/** A short, non-secret label for a credential: enough to tell two keys apart in a log, useless to an attacker. */
export function credentialLabel(kind: string, secret: string): string {
  return `${kind}:${createHash('sha256').update(secret).digest('hex').slice(0, 6)}`;
}

export class CallLog {
  private total = 0;
  private rateLimited = 0;
  private byEndpoint: Record<string, number> = {};
  private byStatus: Record<string, number> = {};
  private ring: CallRecord[] = [];
  private next = 0;

  record(call: CallRecord): void {
    this.total++;
    this.byEndpoint[call.endpoint] = (this.byEndpoint[call.endpoint] ?? 0) + 1;
    const status = String(call.status);
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (call.status === 429) this.rateLimited++;
    if (this.ring.length < CALL_LOG_LIMIT) this.ring.push(call);
    else this.ring[this.next] = call;
    this.next = (this.next + 1) % CALL_LOG_LIMIT;
  }

  stats(): CallStats {
    const log =
      this.ring.length < CALL_LOG_LIMIT
        ? [...this.ring]
        : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return {
      total: this.total,
      byEndpoint: { ...this.byEndpoint },
      byStatus: { ...this.byStatus },
      rateLimited: this.rateLimited,
      log,
    };
  }

  reset(): void {
    this.total = 0;
    this.rateLimited = 0;
    this.byEndpoint = {};
    this.byStatus = {};
    this.ring = [];
    this.next = 0;
  }
}
