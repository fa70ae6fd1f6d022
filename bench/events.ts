import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import { systemClock } from '../src/platform/clock';
import { MemoryOutbox } from '../src/events/outbox';
import { eventRoutes } from '../src/events/pollRoutes';
import { EventPublisher } from '../src/events/publisher';
import { SetPusher } from '../src/events/pusher';
import { EventSigner } from '../src/events/signer';
import { MemoryJournal } from '../src/scim/journal/memoryJournal';

// SCIM security events: BENCH_EVENTS (10,000) subscriber state changes recorded in the change journal, each turned into
// a signed ES256 SET and delivered over loopback HTTP: once pushed (RFC 8935) to a receiver that answers 202, once
// polled (RFC 8936, 500 a poll, acknowledging the previous batch). Latency is from the journal's record to the receiver
// holding the SET; a sample of 100 SETs is verified against the JWKS. No Kit calls: the changes are what the journal
// would emit for SCIM writes and Kit webhooks; Kit's budget never enters event delivery.

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const ISSUER = 'https://scim.example.com';
const logger = pino({ level: 'silent' });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function pipeline(mode: 'push' | 'poll'): Promise<void> {
  const signer = await EventSigner.fromJwk(await EventSigner.generateJwk());
  const journal = new MemoryJournal({ now: () => Date.now(), maxSubscribers: EVENTS * 2 });
  const outbox = new MemoryOutbox({ clock: systemClock, maxEvents: EVENTS * 2, leaseMs: 30_000 });
  const token = 'bench-events-receiver-token-0123456789abcdef';
  const receivers = [{ name: 'iga', audience: 'iga', token }];
  const publisher = new EventPublisher({ issuer: ISSUER, receivers, signer, outbox, logger });
  publisher.attach(journal);
  const recordedAt = new Map<number, number>();
  const latencies: number[] = [];
  const sample: string[] = [];
  const receivedAt = (jwt: string) => {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { sub_id: { uri: string } };
    const id = Number(claims.sub_id.uri.slice('/Users/'.length));
    latencies.push(performance.now() - recordedAt.get(id)!);
    if (sample.length < 100) sample.push(jwt);
  };

  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const closers: Array<() => Promise<void>> = [];
  if (mode === 'push') {
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        receivedAt(body);
        res.writeHead(202).end();
        if (latencies.length === EVENTS) done();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    const pusher = new SetPusher([{ receiver: 'iga', url, token }], {
      outbox,
      clock: systemClock,
      logger,
      deadLetterMs: 3_600_000,
      timeoutMs: 10_000,
      backoff: { baseMs: 50, maxMs: 1000 },
    });
    pusher.start();
    closers.push(
      () => pusher.stop(),
      () => new Promise((r) => receiver.close(() => r())),
    );
  } else {
    const app = express();
    app.use(
      eventRoutes({ receivers, outbox, clock: systemClock, signer, logger, maxWaitMs: 5_000, maxEventsPerPoll: 500 }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    void (async () => {
      let ack: string[] = [];
      while (latencies.length < EVENTS) {
        const res = await fetch(`${base}/scim/v2/Events`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ ack, maxEvents: 500, returnImmediately: false }),
        });
        const { sets } = (await res.json()) as { sets: Record<string, string> };
        ack = Object.keys(sets);
        for (const jwt of Object.values(sets)) receivedAt(jwt);
      }
      done();
    })();
    closers.push(() => new Promise((r) => server.close(() => r())));
  }

  const started = performance.now();
  for (let i = 1; i <= EVENTS; i++) {
    recordedAt.set(i, performance.now());
    await journal.record({ subscriberId: i, at: Date.now(), kind: i % 2 ? 'created' : 'deactivated', source: 'scim' });
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const jwks = createLocalJWKSet(signer.jwks());
  for (const jwt of sample) await jwtVerify(jwt, jwks, { issuer: ISSUER, audience: 'iga', typ: 'secevent+jwt' });
  for (const close of closers) await close();
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${mode}: ${EVENTS} SETs in ${seconds.toFixed(2)} s = ${Math.round(EVENTS / seconds)} SETs/s; ` +
      `latency p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms; ` +
      `${sample.length} sampled SETs verified against the JWKS`,
  );
}

export async function run(): Promise<void> {
  console.log(`bench/events: ${EVENTS} journal changes → signed SETs (ES256) → loopback receiver`);
  await pipeline('push');
  await pipeline('poll');
}
