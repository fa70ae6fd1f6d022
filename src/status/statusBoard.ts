import type { Clock } from '../platform/clock';
import { type AuditEntry, type AuditSink, requestAuditEntry } from '../platform/audit';
import { currentScope } from '../platform/requestScope';
import type { LimiterPriority } from '../kit/priorityLanes';
import { PRIORITIES } from '../kit/priorityLanes';
import type { KitCallRecord } from '../kit/types';
import { DELIVERY_DROP_REASONS, type DeliveryDropReason } from '../scim/webhookHints';

// What the status page shows, gathered from what the server already measures: the limiter's onWait/onQueue
// hooks, the Kit client's onCall records and the audit trail. Per replica (each process keeps its own), in
// fixed-size rings, so memory stays the same after a week as after a minute.

export const MINUTES_KEPT = 60;
export const OPERATIONS_KEPT = 50;
const MINUTE_MS = 60_000;

export interface MinuteBucket {
  /** Epoch ms of the minute's start. */
  startsAt: number;
  /** Kit calls started in this minute, by the limiter lane they left from. */
  calls: Record<LimiterPriority, number>;
  rateLimited: number;
  retries: number;
  /** Exchanges that got no answer at all (timeouts, resets). */
  transportErrors: number;
  peakQueueDepth: number;
  waits: number;
  totalWaitMs: number;
  maxWaitMs: number;
}

/**
 * One provisioning operation as the status page lists it: SCIM ids, the caller's configured name and counts
 * only. Of the audit entry's free text only a failure's SCIM error detail is kept, with addresses masked: it can
 * carry an email address (a reactivation refusal names the address), and the page must not show personal data
 * beyond SCIM ids.
 */
export interface OperationSummary {
  at: string;
  actor: string;
  operation: AuditEntry['operation'];
  resourceType: AuditEntry['resourceType'];
  resourceId?: string;
  outcome: AuditEntry['outcome'];
  status: number;
  kitCalls: number;
  failedKitCalls: number;
  reactivationRefused: boolean;
  skippedMembers: number;
  /** A failure's SCIM error as the client got it; addresses in the detail are masked (see below). */
  scimType?: string;
  errorDetail?: string;
  /** The operation took a user out of Kit's active list (deactivated) or deleted it. */
  deprovisioned?: 'deactivate' | 'delete';
}

export interface StatusSnapshot {
  now: number;
  startedAt: number;
  /** Oldest first; MINUTES_KEPT buckets ending with the current (partial) minute. */
  minutes: MinuteBucket[];
  /** Newest first. */
  operations: OperationSummary[];
  totals: {
    reactivationRefusals: number;
    skippedMembers: number;
    operations: number;
    deprovisions: number;
    /** Kit webhook deliveries dropped (re-read budget spent, too many pending), by reason. */
    webhookDeliveriesDropped: Record<DeliveryDropReason, number>;
  };
}

function emptyBucket(startsAt: number): MinuteBucket {
  return {
    startsAt,
    calls: Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<LimiterPriority, number>,
    rateLimited: 0,
    retries: 0,
    transportErrors: 0,
    peakQueueDepth: 0,
    waits: 0,
    totalWaitMs: 0,
    maxWaitMs: 0,
  };
}

// The route's "N members skipped (not users)" phrase (scimRoutes.ts) is the one place the count is written;
// reading it back here keeps the SCIM routes untouched by the status page.
const SKIPPED_MEMBERS = /(\d+) members skipped/;

// A SCIM error's detail may quote the address the client sent (a uniqueness or reactivation refusal does): the
// page shows ids, never personal data, so addresses are masked.
const EMAIL = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;
const maskAddresses = (text: string) => text.replace(EMAIL, '‹address›');

/** Request ids whose deprovision is waiting for its audit entry; a few at most, the entry follows at once. */
const PENDING_DEPROVISIONS_KEPT = 100;

export class StatusBoard {
  private readonly minutes: Array<MinuteBucket | undefined> = new Array(MINUTES_KEPT);
  private readonly operations: Array<OperationSummary | undefined> = new Array(OPERATIONS_KEPT);
  private nextOperation = 0;
  private operationCount = 0;
  private reactivationRefusals = 0;
  private skippedMembers = 0;
  private deprovisions = 0;
  /** Request id of each kept row, to fold a refusal and the failed write it refused into one row. */
  private readonly requestIds: Array<string | undefined> = new Array(OPERATIONS_KEPT);
  private readonly pendingDeprovisions = new Map<string, 'deactivate' | 'delete'>();
  private readonly webhookDrops = Object.fromEntries(DELIVERY_DROP_REASONS.map((r) => [r, 0])) as Record<
    DeliveryDropReason,
    number
  >;
  readonly startedAt: number;

  constructor(private readonly clock: Clock) {
    this.startedAt = clock.now();
  }

  /** The limiter's onWait: a call left the queue for Kit after waiting `waitedMs`. */
  kitCallStarted(priority: LimiterPriority, waitedMs: number): void {
    const bucket = this.bucket();
    bucket.calls[priority] = (bucket.calls[priority] ?? 0) + 1;
    bucket.waits++;
    bucket.totalWaitMs += Math.max(0, waitedMs);
    bucket.maxWaitMs = Math.max(bucket.maxWaitMs, waitedMs);
  }

  /** The limiter's onQueue. */
  queueDepth(depth: number): void {
    const bucket = this.bucket();
    bucket.peakQueueDepth = Math.max(bucket.peakQueueDepth, depth);
  }

  /** The Kit client's onCall: one record per HTTP exchange. */
  kitCallAnswered(rec: KitCallRecord): void {
    const bucket = this.bucket();
    if (rec.status === 429) bucket.rateLimited++;
    if (rec.status === 'error') bucket.transportErrors++;
    if (rec.attempt > 1) bucket.retries++;
  }

  /** A Kit webhook delivery was dropped rather than re-read. */
  webhookDeliveryDropped(reason: DeliveryDropReason): void {
    this.webhookDrops[reason]++;
  }

  /** The audit trail as the routes see it: every entry goes to `inner` (if any) and a summary is kept here. */
  auditTrail(inner?: Pick<AuditSink, 'record'>): AuditSink {
    const record = (entry: AuditEntry) => {
      this.operationRecorded(entry);
      inner?.record(entry);
    };
    return { record, recordForRequest: (event) => record(requestAuditEntry(event)) };
  }

  /** The users resource deprovisioned a subscriber in the request being served; its audit entry follows. */
  deprovisioned(kind: 'deactivate' | 'delete'): void {
    const requestId = currentScope()?.requestId;
    if (!requestId) return;
    if (this.pendingDeprovisions.size >= PENDING_DEPROVISIONS_KEPT) {
      this.pendingDeprovisions.delete(this.pendingDeprovisions.keys().next().value!);
    }
    this.pendingDeprovisions.set(requestId, kind);
  }

  operationRecorded(entry: AuditEntry): void {
    const skipped = Number(SKIPPED_MEMBERS.exec(entry.detail ?? '')?.[1] ?? 0);
    const reactivationRefused = entry.operation === 'reactivationRejected';
    const deprovisioned = entry.outcome === 'success' ? this.pendingDeprovisions.get(entry.requestId) : undefined;
    if (entry.requestId) this.pendingDeprovisions.delete(entry.requestId);
    const summary: OperationSummary = {
      at: entry.at ?? new Date(this.clock.now()).toISOString(),
      actor: entry.actor,
      operation: entry.operation,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId,
      outcome: entry.outcome,
      status: entry.status,
      kitCalls: entry.kitCalls.length,
      failedKitCalls: entry.kitCalls.filter((c) => c.status === 'error' || c.status >= 400).length,
      reactivationRefused,
      skippedMembers: skipped,
      ...(entry.outcome === 'failure' && entry.scimType ? { scimType: entry.scimType } : {}),
      ...(entry.outcome === 'failure' && entry.detail ? { errorDetail: maskAddresses(entry.detail) } : {}),
      ...(deprovisioned ? { deprovisioned } : {}),
    };
    // A refused reactivation is recorded twice within one request: the refusal, then the write it failed. The
    // page shows one row: the write (with its id and SCIM error), marked as the refusal.
    const last = (this.nextOperation - 1 + OPERATIONS_KEPT) % OPERATIONS_KEPT;
    const previous = this.operations[last];
    if (
      previous?.reactivationRefused &&
      previous.operation === 'reactivationRejected' &&
      entry.requestId &&
      this.requestIds[last] === entry.requestId &&
      entry.outcome === 'failure'
    ) {
      this.operations[last] = { ...summary, reactivationRefused: true };
      return;
    }
    this.operations[this.nextOperation] = summary;
    this.requestIds[this.nextOperation] = entry.requestId;
    this.nextOperation = (this.nextOperation + 1) % OPERATIONS_KEPT;
    this.operationCount++;
    if (reactivationRefused) this.reactivationRefusals++;
    if (deprovisioned) this.deprovisions++;
    this.skippedMembers += skipped;
  }

  snapshot(): StatusSnapshot {
    const now = this.clock.now();
    const current = Math.floor(now / MINUTE_MS);
    const minutes: MinuteBucket[] = [];
    for (let m = current - MINUTES_KEPT + 1; m <= current; m++) {
      const kept = this.minutes[m % MINUTES_KEPT];
      minutes.push(kept && kept.startsAt === m * MINUTE_MS ? structuredClone(kept) : emptyBucket(m * MINUTE_MS));
    }
    const operations: OperationSummary[] = [];
    for (let i = 1; i <= OPERATIONS_KEPT; i++) {
      const op = this.operations[(this.nextOperation - i + OPERATIONS_KEPT) % OPERATIONS_KEPT];
      if (op) operations.push({ ...op });
    }
    return {
      now,
      startedAt: this.startedAt,
      minutes,
      operations,
      totals: {
        reactivationRefusals: this.reactivationRefusals,
        skippedMembers: this.skippedMembers,
        operations: this.operationCount,
        deprovisions: this.deprovisions,
        webhookDeliveriesDropped: { ...this.webhookDrops },
      },
    };
  }

  private bucket(): MinuteBucket {
    const minute = Math.floor(this.clock.now() / MINUTE_MS);
    const slot = minute % MINUTES_KEPT;
    const kept = this.minutes[slot];
    if (kept && kept.startsAt === minute * MINUTE_MS) return kept;
    const fresh = emptyBucket(minute * MINUTE_MS);
    this.minutes[slot] = fresh;
    return fresh;
  }
}
