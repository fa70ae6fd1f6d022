import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { KitCallRecord } from './kitCallRecord';

// Prometheus metrics. Each Metrics owns its Registry: tests build many apps in one process, and the global
// registry would refuse the second registration of every name.

// Wide on purpose: a SCIM request can wait in the Kit limiter for up to KIT_MAX_WAIT_MS (25 s by default).
const REQUEST_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC). On by default; tests that build many apps turn them off. */
  collectDefaults?: boolean;
}

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests: Counter<'method' | 'route' | 'status' | 'tenant'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'tenant'>;
  readonly kitCalls: Counter<'endpoint' | 'status' | 'tenant'>;
  readonly kitCallDuration: Histogram<'endpoint' | 'tenant'>;
  readonly kitRetries: Counter<'endpoint' | 'tenant'>;
  /** Kit's 429s. No labels: Kit limits per credential, not per endpoint. */
  readonly kitRateLimited: Counter<'tenant'>;
  readonly limiterQueueDepth: Gauge<'priority' | 'tenant'>;
  readonly limiterWait: Histogram<'priority' | 'tenant'>;
  readonly reactivationRejected: Counter<'operation' | 'tenant'>;
  /** Creates whose upsert found a subscriber created in Kit after the lookup (Kit answered 200). */
  readonly createRaced: Counter<'tenant'>;
  /** Change-journal entries lost: Redis unreachable and the local spool full. */
  readonly journalLost: Counter<'tenant'>;
  /** Kit webhook deliveries accepted, and those that needed a Kit read. */
  readonly webhookDeliveries: Counter<'outcome' | 'tenant'>;
  readonly webhookDeliveriesDropped: Counter<'reason' | 'tenant'>;
  readonly deprovisions: Counter<'kind' | 'tenant'>;
  readonly authFailures: Counter<'reason' | 'tenant'>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'scim_http_requests_total',
      help: 'SCIM HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status', 'tenant'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'scim_http_request_duration_seconds',
      help: 'Time to answer a SCIM HTTP request, by route pattern',
      labelNames: ['method', 'route', 'tenant'],
      buckets: REQUEST_SECONDS,
      registers,
    });
    this.kitCalls = new Counter({
      name: 'kit_api_calls_total',
      help: 'HTTP exchanges with the Kit API, by endpoint pattern and status ("error" when no answer came)',
      labelNames: ['endpoint', 'status', 'tenant'],
      registers,
    });
    this.kitCallDuration = new Histogram({
      name: 'kit_api_call_duration_seconds',
      help: 'Duration of one HTTP exchange with the Kit API',
      labelNames: ['endpoint', 'tenant'],
      buckets: REQUEST_SECONDS,
      registers,
    });
    this.kitRetries = new Counter({
      name: 'kit_api_retries_total',
      help: 'Kit API exchanges that were retries of an earlier attempt',
      labelNames: ['endpoint', 'tenant'],
      registers,
    });
    this.kitRateLimited = new Counter({
      name: 'kit_api_rate_limited_total',
      help: 'Kit API answers with status 429',
      labelNames: ['tenant'],
      registers,
    });
    this.limiterQueueDepth = new Gauge({
      name: 'kit_limiter_queue_depth',
      help: 'Kit calls waiting in the rate limiter, by priority',
      labelNames: ['priority', 'tenant'],
      registers,
    });
    this.limiterWait = new Histogram({
      name: 'kit_limiter_wait_seconds',
      help: 'Time a Kit call waited in the rate limiter before starting',
      labelNames: ['priority', 'tenant'],
      buckets: WAIT_SECONDS,
      registers,
    });
    this.reactivationRejected = new Counter({
      name: 'scim_reactivation_rejected_total',
      help: 'Requests refused because Kit cannot reactivate a non-active subscriber, by SCIM operation',
      labelNames: ['operation', 'tenant'],
      registers,
    });
    this.createRaced = new Counter({
      name: 'scim_create_raced_total',
      help: 'POST /Users whose upsert met a subscriber created in Kit after the lookup (answered 409, audited)',
      labelNames: ['tenant'],
      registers,
    });
    this.journalLost = new Counter({
      name: 'scim_journal_lost_total',
      help: 'Change-journal entries lost: Redis unreachable and the local spool full',
      labelNames: ['tenant'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'kit_webhook_deliveries_total',
      help: 'Kit webhook deliveries accepted, by outcome (known: agreed with what the server knew; read: re-read from Kit; joined: a later delivery for the same subscriber was handled instead)',
      labelNames: ['outcome', 'tenant'],
      registers,
    });
    this.webhookDeliveriesDropped = new Counter({
      name: 'kit_webhook_deliveries_dropped_total',
      help: 'Kit webhook deliveries accepted but not acted on, by reason (over_budget: the re-read share of the Kit budget was spent; pending_full: too many subscribers pending); the mirror walk corrects them',
      labelNames: ['reason', 'tenant'],
      registers,
    });
    this.deprovisions = new Counter({
      name: 'scim_deprovisions_total',
      help: 'Users deprovisioned, by kind (deactivate or delete)',
      labelNames: ['kind', 'tenant'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'scim_auth_failures_total',
      help: 'Refused inbound requests, by reason',
      labelNames: ['reason', 'tenant'],
      registers,
    });
    if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The Kit client's onCall hook: one record per HTTP exchange, retries included. `scope` is the tenant's label
   * (empty for the one tenant the environment describes, whose series stay as they were before tenants).
   */
  recordKitCall(rec: KitCallRecord, scope: TenantLabel = {}): void {
    const status = String(rec.status);
    this.kitCalls.inc(labels({ ...scope, endpoint: rec.endpoint, status }));
    this.kitCallDuration.observe(labels({ ...scope, endpoint: rec.endpoint }), rec.durationMs / 1000);
    if (rec.status === 429) this.kitRateLimited.inc(labels({ ...scope }));
    if (rec.attempt > 1) this.kitRetries.inc(labels({ ...scope, endpoint: rec.endpoint }));
  }
}

/** `{tenant: id}` on the series of a tenant; empty for the one tenant the environment describes. */
export type TenantLabel = { tenant?: string };

/**
 * The exposition cut down to the series labelled `tenant="<id>"` (and their HELP/TYPE lines). Tenant ids are
 * restricted to [a-z0-9-] (tenants/model.ts), so the label needs no escaping and cannot match a prefix of
 * another id (the closing quote is part of the match).
 */
export function seriesOfTenant(exposition: string, tenant: string): string {
  const marker = `tenant="${tenant}"`;
  const out: string[] = [];
  let header: string[] = [];
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) {
      // A HELP line opens a new family; its TYPE line follows.
      if (line.startsWith('# HELP ')) header = [];
      header.push(line);
      continue;
    }
    if (!line.includes(marker)) continue;
    out.push(...header, line);
    header = [];
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * A label set with no prototype. prom-client checks label names with `for…in`, which also walks inherited
 * properties: were any dependency to write Object.prototype.x (scimmy 1.3.5's filter parser does, given a
 * filter path through `__proto__`),
 * every plain-object label set would carry "x" and every metric update would throw.
 */
export function labels<T extends Record<string, string>>(values: T): T {
  return Object.assign(Object.create(null) as T, values);
}
