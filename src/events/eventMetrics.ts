import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../platform/clock';
import type { Outbox } from './outbox';

// The security events' series. prom-client refuses a metric name registered twice in one registry, and one
// registry serves several tenants (each with its own outbox, rebuilt when a reload changes the tenant): so the
// series are registered once per registry, labelled by tenant, and each tenant's outbox joins the gauges'
// collection while it runs.

type Labels = Record<string, string>;

interface OutboxSource {
  labels: Labels;
  outbox: Outbox;
  receivers: string[];
  clock: Clock;
}

const LABELS = ['tenant', 'receiver'];
const byRegistry = new WeakMap<Registry, EventMetrics>();

export class EventMetrics {
  readonly queued: Counter<string>;
  readonly delivered: Counter<string>;
  readonly failed: Counter<string>;
  readonly dropped: Counter<string>;
  readonly deadLettered: Counter<string>;
  readonly lost: Counter<string>;
  private readonly sources = new Set<OutboxSource>();

  /** The one EventMetrics of `registry`, registered on first use. */
  static of(registry: Registry): EventMetrics {
    let metrics = byRegistry.get(registry);
    if (!metrics) {
      metrics = new EventMetrics(registry);
      byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(registry: Registry) {
    const registers = [registry];
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: LABELS, registers });
    this.queued = counter('scim_events_queued_total', 'SETs queued');
    this.delivered = counter('scim_events_delivered_total', 'SETs acknowledged by their receiver');
    this.failed = counter('scim_events_failed_total', 'SETs a receiver rejected (setErrs)');
    this.dropped = counter('scim_events_dropped_total', 'SETs dropped from a full outbox');
    this.lost = counter('scim_events_lost_total', 'SETs lost: Redis unreachable and the local spool full');
    this.deadLettered = counter(
      'scim_events_dead_lettered_total',
      'Pushed SETs given up on after SCIM_EVENTS_DEAD_LETTER_SECONDS',
    );
    const sources = this.sources;
    new Gauge({
      name: 'scim_events_pending',
      help: 'SETs queued and not yet acknowledged',
      labelNames: LABELS,
      registers,
      async collect() {
        this.reset();
        for (const s of sources)
          for (const r of s.receivers) this.set({ ...s.labels, receiver: r }, await s.outbox.depth(r).catch(() => 0));
      },
    });
    new Gauge({
      name: 'scim_events_oldest_pending_seconds',
      help: 'Age of the oldest SET not yet acknowledged',
      labelNames: LABELS,
      registers,
      async collect() {
        this.reset();
        for (const s of sources)
          for (const r of s.receivers) {
            const at = await s.outbox.oldestQueuedAt(r).catch(() => undefined);
            this.set({ ...s.labels, receiver: r }, at === undefined ? 0 : (s.clock.now() - at) / 1000);
          }
      },
    });
  }

  /** Adds an outbox to the gauges; the returned function takes it out again (its tenant closed). */
  watch(source: OutboxSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }
}
