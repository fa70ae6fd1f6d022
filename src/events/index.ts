import type { JWK } from 'jose';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { EventsConfig } from '../config';
import type { RedisLink } from '../redis/redisLink';
import { MemoryOutbox, type Outbox } from './outbox';
import { RedisOutbox } from './redisOutbox';
import { eventRoutes } from './pollRoutes';
import { EventPublisher } from './publisher';
import { SetPusher } from './pusher';
import { EventSigner } from './signer';

// Issue 15, SCIM security events: the parts wired from the config for the composition root (service.ts).

export interface SecurityEvents {
  publisher: EventPublisher;
  outbox: Outbox;
  signer: EventSigner;
  router: ReturnType<typeof eventRoutes>;
  pusher: SetPusher;
  close(): Promise<void>;
}

export interface SecurityEventsDeps {
  config: EventsConfig;
  issuer: string;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  redis?: RedisLink;
  /** Redis key prefix, unique per Kit account. */
  prefix: string;
  /** An audit line for each SET dropped from a full outbox. */
  audit: (detail: string) => void;
}

/** How long start-up waits for Redis to read (or create) the shared signing key. */
const REDIS_KEY_WAIT_MS = 10_000;

async function signerOf(d: SecurityEventsDeps): Promise<EventSigner> {
  const previous = d.config.previousPublicKeys as unknown as JWK[];
  if (d.config.signingKey) return EventSigner.fromJwk(d.config.signingKey as unknown as JWK, previous);
  if (d.redis) {
    // Every replica must sign with one key (receivers may fetch the JWKS from any): wait for Redis at start-up.
    if (await d.redis.waitHealthy(REDIS_KEY_WAIT_MS))
      return EventSigner.fromRedis(d.redis, `${d.prefix}events:signing-key`, previous);
    d.logger.error(
      { keyFile: d.config.keyFile },
      'security events: Redis unavailable at start-up; signing with the key file (other replicas may publish another key)',
    );
  }
  return EventSigner.fromFile(d.config.keyFile, previous);
}

export async function buildSecurityEvents(d: SecurityEventsDeps): Promise<SecurityEvents> {
  const signer = await signerOf(d);
  const registers = [d.registry];
  const queued = new Counter({
    name: 'scim_events_queued_total',
    help: 'SETs queued',
    labelNames: ['receiver'],
    registers,
  });
  const delivered = new Counter({
    name: 'scim_events_delivered_total',
    help: 'SETs acknowledged by their receiver',
    labelNames: ['receiver'],
    registers,
  });
  const failed = new Counter({
    name: 'scim_events_failed_total',
    help: 'SETs a receiver rejected (setErrs)',
    labelNames: ['receiver'],
    registers,
  });
  const dropped = new Counter({
    name: 'scim_events_dropped_total',
    help: 'SETs dropped from a full outbox',
    labelNames: ['receiver'],
    registers,
  });
  const onDrop = (receiver: string, set: { jti: string; subject: string }) => {
    dropped.inc({ receiver });
    d.audit(`security event ${set.jti} for ${set.subject} dropped: the outbox of receiver ${receiver} is full`);
  };
  const bounds = { clock: d.clock, maxEvents: d.config.outboxMax, leaseMs: d.config.leaseMs, onDrop };
  // Durable and shared with REDIS_URL; otherwise one process's, and the operator is told so.
  const outbox: Outbox = d.redis ? new RedisOutbox(d.redis, { ...bounds, prefix: d.prefix }) : new MemoryOutbox(bounds);
  const names = d.config.receivers.map((r) => r.name);
  new Gauge({
    name: 'scim_events_pending',
    help: 'SETs queued and not yet acknowledged',
    labelNames: ['receiver'],
    registers,
    async collect() {
      for (const r of names) this.set({ receiver: r }, await outbox.depth(r).catch(() => 0));
    },
  });
  new Gauge({
    name: 'scim_events_oldest_pending_seconds',
    help: 'Age of the oldest SET not yet acknowledged',
    labelNames: ['receiver'],
    registers,
    async collect() {
      for (const r of names) {
        const at = await outbox.oldestQueuedAt(r).catch(() => undefined);
        this.set({ receiver: r }, at === undefined ? 0 : (d.clock.now() - at) / 1000);
      }
    },
  });
  const publisher = new EventPublisher({
    issuer: d.issuer,
    receivers: d.config.receivers,
    signer,
    outbox,
    logger: d.logger,
    onQueued: (receiver) => queued.inc({ receiver }),
  });
  const router = eventRoutes({
    receivers: d.config.receivers,
    outbox,
    clock: d.clock,
    signer,
    logger: d.logger,
    maxWaitMs: d.config.maxWaitMs,
    maxEventsPerPoll: d.config.maxEventsPerPoll,
    onAcked: (receiver, n) => delivered.inc({ receiver }, n),
    onRejected: (receiver, n) => failed.inc({ receiver }, n),
  });
  const deadLettered = new Counter({
    name: 'scim_events_dead_lettered_total',
    help: 'Pushed SETs given up on after SCIM_EVENTS_DEAD_LETTER_SECONDS',
    labelNames: ['receiver'],
    registers,
  });
  const tokens = new Map(d.config.receivers.map((r) => [r.name, r.token]));
  const pusher = new SetPusher(
    d.config.push.map((p) => ({ receiver: p.receiver, url: p.url, token: tokens.get(p.receiver)! })),
    {
      outbox,
      clock: d.clock,
      logger: d.logger,
      deadLetterMs: d.config.deadLetterMs,
      timeoutMs: 10_000,
      backoff: { baseMs: 250, maxMs: 60_000 },
      onDelivered: (receiver) => delivered.inc({ receiver }),
      onFailed: (receiver) => failed.inc({ receiver }),
      onDeadLetter: (receiver, set) => {
        deadLettered.inc({ receiver });
        d.audit(
          `security event ${set.jti} for ${set.subject} dead-lettered: receiver ${receiver} did not accept it in time`,
        );
      },
    },
  );
  pusher.start();
  if (!d.redis)
    d.logger.warn(
      { receivers: names },
      'security events: the outbox is in memory (one process, lost on restart; set REDIS_URL for a durable one); receivers dedupe by jti',
    );
  return {
    publisher,
    outbox,
    signer,
    router,
    pusher,
    async close() {
      publisher.detach();
      await pusher.stop();
      outbox.wakeAll();
      await publisher.idle();
    },
  };
}
