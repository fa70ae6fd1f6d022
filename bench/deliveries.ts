import { createServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../src/config/environment';
import { startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../src/app/service';

// A flood of forged Kit webhook deliveries: BENCH_DELIVERIES (3,000) for distinct subscriber ids, posted
// BENCH_DELIVERY_CONCURRENCY (50) at a time to the receiver, while an IdP creates a user every 250 ms. Prints the
// Kit calls the flood cost per 1,000 deliveries (the sandbox's own counters), what became of the deliveries, and
// the IdP's create latency during the flood next to the same creates without one. The sandbox and the server run
// in this process, at Kit's budget of 120 calls per BENCH_WINDOW_MS (Kit's real 60 s by default).

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 50);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 60_000);
const CREATE_EVERY_MS = 250;
const TOKEN = 'bench-deliveries-token-0123456789abcdef0123';
const SECRET = 'bench-deliveries-secret-0123456789abcdef0123';
const GET_BY_ID = 'GET /v4/subscribers/:id';

interface Latencies {
  count: number;
  p50Ms: number;
  maxMs: number;
}

function summary(ms: number[]): Latencies {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (i: number) => Math.round(sorted[i] ?? 0);
  return { count: sorted.length, p50Ms: at(Math.floor(sorted.length / 2)), maxMs: at(sorted.length - 1) };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export async function run(): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const sandbox = await startKitSandbox({ rateLimit: { max: 120, windowMs: WINDOW_MS } });
  const service = new Service({
    config: loadConfig({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
      KIT_RATE_WINDOW_MS: String(WINDOW_MS),
      PUBLIC_BASE_URL: base,
      KIT_WEBHOOK_SECRET: SECRET,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
    }),
    logger: pino({ level: 'silent' }),
  });
  await service.bootstrap();
  const server = await service.listen(port, '127.0.0.1');
  try {
    while (!(await service.scim().tracking.mirror!.complete())) await new Promise((r) => setTimeout(r, 50));
    const hints = service.hints!;
    let created = 0;
    const create = async (): Promise<number> => {
      const started = performance.now();
      const res = await request(service.app)
        .post('/scim/v2/Users')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/scim+json')
        .send(
          JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `bench.${++created}@contoso.example`,
          }),
        );
      if (res.status !== 201) throw new Error(`create answered ${res.status}`);
      return performance.now() - started;
    };

    const quiet: number[] = [];
    for (let i = 0; i < 8; i++) quiet.push(await create());

    sandbox.resetCalls();
    const during: number[] = [];
    let flooding = true;
    const idp = (async () => {
      while (flooding) {
        during.push(await create());
        await new Promise((r) => setTimeout(r, CREATE_EVERY_MS));
      }
    })();
    const started = performance.now();
    for (let i = 0; i < DELIVERIES; i += CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, DELIVERIES - i) }, (_, j) =>
          fetch(`${base}/kit/webhooks/${SECRET}/subscriber_unsubscribe`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ subscriber: { id: 90_000_000 + i + j, state: 'inactive' } }),
          }).then((r) => r.body?.cancel()),
        ),
      );
    }
    const postedSeconds = (performance.now() - started) / 1000;
    await hints.idle({ holds: false });
    flooding = false;
    await idp;

    const calls = sandbox.calls().byEndpoint;
    const rereads = calls[GET_BY_ID] ?? 0;
    const stats = hints.stats();
    console.log(
      JSON.stringify(
        {
          deliveries: DELIVERIES,
          postedSeconds: Number(postedSeconds.toFixed(1)),
          windowMs: WINDOW_MS,
          rereadCalls: rereads,
          kitCallsPer1000Deliveries: Number(((rereads * 1000) / DELIVERIES).toFixed(2)),
          dropped: stats.dropped,
          idpCreatesQuiet: summary(quiet),
          idpCreatesDuringFlood: summary(during),
        },
        null,
        2,
      ),
    );
  } finally {
    server.close();
    await service.close();
    await sandbox.close();
  }
}
