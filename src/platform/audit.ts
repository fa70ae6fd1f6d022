import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { type Clock, systemClock } from './clock';
import { maskSecrets } from './logging';
import { currentScope } from './requestScope';

// The audit trail: who changed what in Kit, through which Kit calls, with what outcome. A stream of its own,
// apart from the application log, so it can be shipped and retained separately; one JSON object per line.

export type AuditOperation =
  | 'create'
  | 'replace'
  | 'patch'
  | 'delete'
  | 'deactivate'
  | 'reactivationRejected'
  // Kit's upsert answered 200: the email was created in Kit between the lookup and the create.
  | 'createRaced'
  // A SET dropped from a full security-event outbox: the receiver never gets it.
  | 'securityEventDropped'
  // A change-journal entry lost: Redis unreachable and the journal's local spool full.
  | 'journalEntryLost';

export interface AuditEntry {
  /** ISO 8601; defaults to the time of recording. */
  at?: string;
  requestId: string;
  /** The tenant (Kit account) the operation was for; stamped by the tenant's audit sink. */
  tenant?: string;
  /** The Principal's name (a configured token name or `jwt:<sub>`), never a credential. */
  actor: string;
  operation: AuditOperation;
  resourceType: 'User' | 'Group';
  resourceId?: string;
  outcome: 'success' | 'failure';
  /** The HTTP status answered to the SCIM client. */
  status: number;
  kitCalls: Array<{ endpoint: string; status: number | 'error' }>;
  detail?: string;
  /** The SCIM error's scimType (RFC 7644 §3.12) when the answer was one that carries it. */
  scimType?: string;
}

export interface AuditLogOptions {
  /** Stamps entries that carry no `at`. */
  clock?: Clock;
  /** Where the `stdout` target writes; tests pass a memory stream. */
  stdout?: Writable;
  /** A write failure (disk full, file removed...) is reported here instead of crashing the server. */
  onError?: (err: Error) => void;
  /** Configured secret values to mask if they ever reach a detail. */
  knownSecrets?: string[];
}

const MAX_DETAIL_LENGTH = 1000;

/** Where the routes send audit entries: the AuditLog, or a tee that also feeds the status page. */
export type AuditSink = Pick<AuditLog, 'record' | 'recordForRequest'>;

export type RequestAuditEvent = Pick<
  AuditEntry,
  'operation' | 'resourceType' | 'resourceId' | 'status' | 'detail' | 'scimType'
> & {
  actor?: string;
};

/**
 * An event of the request being served as an audit entry: its id, the caller (the principal on its scope unless
 * `actor` names it) and the Kit calls it made so far come from the request scope; the outcome from the status.
 */
export function requestAuditEntry(event: RequestAuditEvent): AuditEntry {
  const scope = currentScope();
  const { actor, ...rest } = event;
  const detail = [event.detail, ...(scope?.auditNotes ?? [])].filter((d) => d !== undefined).join('; ');
  return {
    ...rest,
    ...(detail ? { detail } : {}),
    requestId: scope?.requestId ?? '',
    actor: actor ?? scope?.principal?.name ?? 'unknown',
    outcome: event.status < 400 ? 'success' : 'failure',
    kitCalls: (scope?.kitCalls ?? []).map((c) => ({ endpoint: c.endpoint, status: c.status })),
  };
}

export class AuditLog {
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private readonly clock: Clock;
  private readonly onError: (err: Error) => void;
  private knownSecrets: string[];
  private closed = false;

  /**
   * `target` is `stdout` or a file path. The file is opened (created with mode 0600 if missing) for
   * appending right here, so a path that cannot be written fails start-up instead of the first audit record.
   */
  constructor(
    readonly target: 'stdout' | (string & {}),
    opts: AuditLogOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.onError = opts.onError ?? ((err) => process.emitWarning(`audit log: ${err.message}`));
    this.knownSecrets = (opts.knownSecrets ?? []).filter((s) => s !== '');
    if (target === 'stdout') {
      this.stream = opts.stdout ?? process.stdout;
      this.ownsStream = false;
    } else {
      const fd = fs.openSync(target, 'a', 0o600);
      this.stream = fs.createWriteStream(target, { fd });
      this.ownsStream = true;
    }
    this.stream.on('error', (err) => this.onError(err));
  }

  /** Secrets of tenants added by a reload: masked like those known at start-up. */
  rememberSecrets(secrets: string[]): void {
    const known = new Set(this.knownSecrets);
    this.knownSecrets = [...this.knownSecrets, ...secrets.filter((s) => s !== '' && !known.has(s))];
  }

  /**
   * Records an event of the request being served: its id, the caller (the principal on its scope unless
   * `actor` names it) and the Kit calls it made so far come from the request scope; the outcome from the status.
   */
  recordForRequest(event: RequestAuditEvent): void {
    this.record(requestAuditEntry(event));
  }

  record(entry: AuditEntry): void {
    if (this.closed) {
      this.onError(new Error(`record after close dropped (${entry.operation} ${entry.resourceType})`));
      return;
    }
    this.stream.write(`${JSON.stringify(this.line(entry))}\n`);
  }

  /** Flushes what was recorded; closes the file (stdout stays open for the rest of the process). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      if (this.ownsStream) {
        this.stream.end(() => resolve());
      } else {
        this.stream.write('', () => resolve());
      }
    });
  }

  /**
   * Copies only the known fields, in a fixed order, so nothing a caller happens to attach (a request body,
   * a credential) can reach the trail; free text is masked and bounded.
   */
  private line(entry: AuditEntry): Record<string, unknown> {
    const detail = entry.detail === undefined ? undefined : maskSecrets(entry.detail, this.knownSecrets);
    return {
      type: 'audit',
      at: entry.at ?? new Date(this.clock.now()).toISOString(),
      requestId: entry.requestId,
      tenant: entry.tenant,
      actor: maskSecrets(entry.actor, this.knownSecrets),
      operation: entry.operation,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId,
      outcome: entry.outcome,
      status: entry.status,
      kitCalls: entry.kitCalls.map((c) => ({ endpoint: c.endpoint, status: c.status })),
      detail: detail && detail.length > MAX_DETAIL_LENGTH ? `${detail.slice(0, MAX_DETAIL_LENGTH - 1)}…` : detail,
    };
  }
}
