import type { BulkQueue } from '../bulkQueue';
import type { Clock } from '../clock';
import { notFound } from '../rejection';
import type { Exchange } from '../router';
import type { SandboxStore } from '../store';

export interface RouteContext {
  store: SandboxStore;
  bulk: BulkQueue;
  now: Clock;
  /** How POST /v4/subscribers/{id}/unsubscribe answers; see KitSandboxOptions. */
  unsubscribeAnswer?: 'subscriber' | 'noContent';
}

/** Kit ids are positive integers; anything else in an id position is simply not found. */
export function idParam(x: Exchange, name: string): number {
  const raw = x.params[name];
  if (!/^\d+$/.test(raw ?? '')) throw notFound();
  const id = Number(raw);
  if (!Number.isSafeInteger(id)) throw notFound();
  return id;
}
