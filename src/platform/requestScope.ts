import { AsyncLocalStorage } from 'node:async_hooks';
import type { KitCallRecord } from './kitCallRecord';

// What one SCIM request did, reachable from code that never sees `req` (the Kit client's onCall hook, the
// audit writer deep in a SCIM handler). Work outside a request (reconciliation warm-up, start-up checks)
// simply has no scope, and recording becomes a no-op.

/** Who is calling, once authenticated. */
export interface Principal {
  /** For logs and the audit trail: the configured token name, or `jwt:<sub>`. Never the credential. */
  name: string;
  kind: 'token' | 'jwt';
  readOnly: boolean;
  subject?: string;
}

export interface RequestScope {
  requestId: string;
  /** The request's HTTP method: security events tell a PUT from a PATCH by it (src/events). */
  method?: string;
  principal?: Principal;
  kitCalls: KitCallRecord[];
  /** Calls left out of `kitCalls` once it reached its cap; see MAX_KIT_CALLS_PER_SCOPE. */
  kitCallsDropped?: number;
  /** What the request's audit record says beyond its outcome (attributes a write left out, say). */
  auditNotes?: string[];
}

/**
 * A full-account reconciliation page can make many Kit calls inside one request; keeping every record
 * would let one request grow without bound. The count of the rest is kept instead.
 */
export const MAX_KIT_CALLS_PER_SCOPE = 500;

const storage = new AsyncLocalStorage<RequestScope>();

export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** A note for the audit record of the request being served; a no-op outside a request. */
export function noteForAudit(note: string): void {
  const scope = storage.getStore();
  if (!scope) return;
  (scope.auditNotes ??= []).push(note);
}

export function recordKitCallInScope(rec: KitCallRecord): void {
  const scope = storage.getStore();
  if (!scope) return;
  if (scope.kitCalls.length < MAX_KIT_CALLS_PER_SCOPE) scope.kitCalls.push(rec);
  else scope.kitCallsDropped = (scope.kitCallsDropped ?? 0) + 1;
}
