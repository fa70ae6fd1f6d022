import { join } from 'node:path';
import type { JWK } from 'jose';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { EventsConfig } from '../config/environment';
import type { RedisLink } from '../platform/redisLink';
import { EventMetrics } from './eventMetrics';
import { MemoryOutbox, type Outbox } from './outbox';
import { RedisOutbox } from './redisOutbox';
import { eventRoutes } from './pollRoutes';
import { EventPublisher } from './publisher';
import { SetPusher } from './pusher';
import { EventSigner } from './signer';
import { SpooledOutbox } from './spool';

// SCIM security events: the parts wired from the config for the composition root (service.ts).

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
  /** Put on every series of these events (the tenant, when several share the registry). */
  labels?: Record<string, string>;
  redis?: RedisLink;
  /** Redis key prefix, unique per Kit account. */
  prefix: string;
  /** An audit line for each SET dropped from a full outbox, dead-lettered or lost while Redis was away. */
  audit: (detail: string) => void;
}

/** How long start-up waits for Redis to read (or create) the shared signing key. */
const REDIS_KEY_WAIT_MS = 10_000;

/**
 * How long a key no replica signs with any more stays in the JWKS: at least a week, and never less than a SET may
 * wait for its receiver (the dead-letter age); public keys cost nothing to keep.
 */
const retentionMs = (config: EventsConfig) => Math.max(config.deadLetterMs, 7 * 86_400_000);

async function signerOf(d: SecurityEventsDeps): Promise<EventSigner> {
  const previous = d.config.previousPublicKeys as unknown as JWK[];
  if (d.config.signingKey) return EventSigner.fromJwk(d.config.signingKey as unknown as JWK, previous);
  if (d.redis) {
    const ring = {
      redis: d.redis,
      key: `${d.prefix}events:signing-key`,
      clock: d.clock,
      retentionMs: retentionMs(d.config),
      onAdopt: (from: string, to: string) =>
        d.logger.warn({ from, to }, 'security events: now signing with the key the shared store names'),
    };
    // Every replica must sign with one key (receivers may fetch the JWKS from any): wait for Redis at start-up.
    if (await d.redis.waitHealthy(REDIS_KEY_WAIT_MS)) return EventSigner.fromRedis(ring, previous);
    d.logger.error(
      { keyFile: d.config.keyFile },
      'security events: Redis unavailable at start-up; signing with the key file until the shared store answers',
    );
    return EventSigner.joiningRing(await EventSigner.keyFileJwk(d.config.keyFile), ring, previous);
  }
  return EventSigner.fromFile(d.config.keyFile, previous);
}

/** One spool file per tenant (its Redis prefix), in a name any file system takes. */
const spoolFileName = (prefix: string) => `${prefix.replace(/[^A-Za-z0-9_-]+/g, '_')}spool.jsonl`;

export async function buildSecurityEvents(d: SecurityEventsDeps): Promise<SecurityEvents> {
  const signer = await signerOf(d);
  const metrics = EventMetrics.of(d.registry);
  const base = d.labels ?? {};
  const labelled = (receiver: string) => ({ ...base, receiver });
  const { queued, delivered, failed, dropped, deadLettered, lost } = metrics;
  const onDrop = (receiver: string, set: { jti: string; subject: string }) => {
    dropped.inc(labelled(receiver));
    d.audit(`security event ${set.jti} for ${set.subject} dropped: the outbox of receiver ${receiver} is full`);
  };
  const bounds = { clock: d.clock, maxEvents: d.config.outboxMax, leaseMs: d.config.leaseMs, onDrop };
  // Durable and shared with REDIS_URL; otherwise one process's, and the operator is told so.
  // With Redis, SETs made while it is away wait in a local spool (spool.ts) and move to it when it returns.
  const shared = d.redis ? new RedisOutbox(d.redis, { ...bounds, prefix: d.prefix }) : undefined;
  const outbox: Outbox = shared
    ? new SpooledOutbox(shared, {
        redis: d.redis!,
        clock: d.clock,
        logger: d.logger,
        file: d.config.spoolDir ? join(d.config.spoolDir, spoolFileName(d.prefix)) : undefined,
        maxSpooled: d.config.spoolMax,
        onLost: (receiver, set) => {
          lost.inc(labelled(receiver));
          d.audit(
            `security event ${set.jti} for ${set.subject} lost: Redis unreachable and the spool of receiver ${receiver} full`,
          );
        },
      })
    : new MemoryOutbox(bounds);
  const names = d.config.receivers.map((r) => r.name);
  const unwatch = metrics.watch({ labels: base, outbox, receivers: names, clock: d.clock });
  const publisher = new EventPublisher({
    issuer: d.issuer,
    receivers: d.config.receivers,
    signer,
    outbox,
    logger: d.logger,
    onQueued: (receiver) => queued.inc(labelled(receiver)),
  });
  const router = eventRoutes({
    receivers: d.config.receivers,
    outbox,
    clock: d.clock,
    signer,
    logger: d.logger,
    maxWaitMs: d.config.maxWaitMs,
    maxEventsPerPoll: d.config.maxEventsPerPoll,
    onAcked: (receiver, n) => delivered.inc(labelled(receiver), n),
    onRejected: (receiver, n) => failed.inc(labelled(receiver), n),
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
      onDelivered: (receiver) => delivered.inc(labelled(receiver)),
      onFailed: (receiver) => failed.inc(labelled(receiver)),
      onDeadLetter: (receiver, set) => {
        deadLettered.inc(labelled(receiver));
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
      unwatch();
      signer.stop();
      if (outbox instanceof SpooledOutbox) outbox.close();
      shared?.close();
      publisher.detach();
      await pusher.stop();
      outbox.wakeAll();
      await publisher.idle();
    },
  };
}
