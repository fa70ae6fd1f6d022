import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Redis from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../src/config/environment';
import { limiterIdFor } from '../src/kit/limiter';
import { startKitSandbox } from '@convertkit-scim/kit-sandbox';
import type { SubscriberMirror } from '../src/scim/mirror/subscriberMirror';
import { Service } from '../src/app/service';

// An IdP's whole flow, counted in Kit calls: BENCH_USERS (1,000) Entra-style users, each looked
// up by userName and created, then added to a group (PATCH /Groups add, 100 members a request, as Entra
// batches membership), then each deprovisioned (lookup, PATCH active "False"). Run with the mirror off and on.
// The sandbox and the server run in this process; the window is Kit's budget of 120 calls over a short window
// (BENCH_WINDOW_MS, 2,000 ms; BENCH_WINDOW_MS=60000 for Kit's real one), so users per minute are given at that
// window and converted to Kit's real 60 s window (the flows are bound by the budget, not by the server).
// Then the mirror's memory for BENCH_MIRROR_SUBSCRIBERS (100,000): in process (heap growth), and in Redis
// (MEMORY USAGE of its keys) when REDIS_URL answers.

const USERS = Number(process.env.BENCH_USERS ?? 1000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const MIRROR_SUBSCRIBERS = Number(process.env.BENCH_MIRROR_SUBSCRIBERS ?? 100_000);
const TOKEN = 'bench-provision-token-0123456789abcdef0123';
const GROUP_BATCH = 100;

interface FlowFigures {
  calls: number;
  perUser: number;
  seconds: number;
  usersPerMinute: number;
  usersPerKitMinute: number;
  idp429: number;
  byEndpoint: Record<string, number>;
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function scenario(mirror: boolean, redisUrl?: string) {
  const sandbox = await startKitSandbox({ rateLimit: { max: 120, windowMs: WINDOW_MS } });
  const config = loadConfig({
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `entra=${TOKEN}`,
    KIT_RATE_WINDOW_MS: String(WINDOW_MS),
    KIT_MAX_WAIT_MS: String(Math.max(25_000, WINDOW_MS * 2)),
    MIRROR: mirror ? 'on' : 'off',
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  const service = new Service({ config, logger: pino({ level: 'silent' }) });
  await service.bootstrap();
  const mirrorOf = service.scim().tracking.mirror;
  if (mirrorOf) await untilComplete(mirrorOf);
  await service.scim().membership.membershipIndex({ priority: 'background' });
  const app = service.app;
  const auth = (t: request.Test) => t.set('Authorization', `Bearer ${TOKEN}`);
  const send = (t: request.Test, body: unknown) =>
    auth(t).set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  const group = await send(request(app).post('/scim/v2/Groups'), {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: `Bench ${Date.now()}`,
  });
  const run = Date.now();
  const upns = Array.from({ length: USERS }, (_, i) => `entra.${run}.${i}@contoso.example`);
  const ids = new Map<string, string>();
  let idp429 = 0;
  const lookup = async (upn: string) => {
    const res = await auth(request(app).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${upn}"`)}`));
    if (res.status === 429) idp429++;
    return res;
  };

  const measure = async (fn: () => Promise<void>): Promise<FlowFigures> => {
    sandbox.resetCalls();
    idp429 = 0;
    const started = Date.now();
    await fn();
    const seconds = (Date.now() - started) / 1000;
    const stats = sandbox.calls();
    const perUser = stats.total / USERS;
    return {
      calls: stats.total,
      perUser,
      seconds,
      usersPerMinute: (USERS / seconds) * 60,
      usersPerKitMinute: (USERS / seconds) * 60 * (WINDOW_MS / 60_000),
      idp429,
      byEndpoint: stats.byEndpoint,
    };
  };

  const create = await measure(() =>
    pool(upns, CONCURRENCY, async (upn) => {
      await lookup(upn);
      const res = await send(request(app).post('/scim/v2/Users'), {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: upn,
        externalId: `oid-${upn}`,
        active: true,
        displayName: 'Bench User',
        emails: [{ primary: true, type: 'work', value: upn }],
        name: { givenName: 'Bench', familyName: 'User' },
      });
      if (res.status === 429) idp429++;
      else if (res.status !== 201) throw new Error(`create ${upn}: ${res.status} ${JSON.stringify(res.body)}`);
      ids.set(upn, res.body.id);
    }),
  );
  const batches = Array.from({ length: Math.ceil(USERS / GROUP_BATCH) }, (_, b) =>
    upns.slice(b * GROUP_BATCH, (b + 1) * GROUP_BATCH),
  );
  const groupAdd = await measure(() =>
    pool(batches, 2, async (batch) => {
      const res = await send(request(app).patch(`/scim/v2/Groups/${group.body.id}`), {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Add', path: 'members', value: batch.map((u) => ({ value: ids.get(u) })) }],
      });
      if (res.status === 429) idp429++;
      else if (res.status !== 204) throw new Error(`group add: ${res.status}`);
    }),
  );
  const deprovision = await measure(() =>
    pool(upns, CONCURRENCY, async (upn) => {
      const found = await lookup(upn);
      const id = found.body.Resources?.[0]?.id ?? ids.get(upn);
      const res = await send(request(app).patch(`/scim/v2/Users/${id}`), {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      if (res.status === 429) idp429++;
      else if (res.status !== 200) throw new Error(`deprovision ${upn}: ${res.status}`);
    }),
  );
  await service.close();
  await sandbox.close();
  return { create, groupAdd, deprovision };
}

/** The start-up walk, or (if it failed, e.g. on a loaded machine) up to three forced ones. */
async function untilComplete(mirror: SubscriberMirror): Promise<void> {
  await mirror.idle();
  for (let attempt = 0; !(await mirror.complete()); attempt++) {
    if (attempt === 3) throw new Error('the mirror did not complete after three walks (see the warnings above)');
    await mirror.walk();
  }
}

async function mirrorMemory(redisUrl?: string) {
  const sandbox = await startKitSandbox({ rateLimit: { max: 120, windowMs: 500 } });
  sandbox.store.seedSubscribers(MIRROR_SUBSCRIBERS, {
    emailPrefix: 'mirror-bench-',
    fields: {},
  });
  const make = (redis?: string) =>
    new Service({
      config: loadConfig({
        KIT_API_URL: sandbox.url,
        KIT_API_KEY: sandbox.apiKey,
        SCIM_BEARER_TOKENS: `entra=${TOKEN}`,
        KIT_RATE_WINDOW_MS: '500',
        MIRROR: 'on',
        AUDIT_LOG: 'off',
        LOG_LEVEL: 'silent',
        ...(redis ? { REDIS_URL: redis } : {}),
      }),
      // Warnings (a failed walk) go to stderr: a bench that waits for the mirror must say why it waits.
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
  // A heap measurement needs a collection before each reading; `gc` is exposed at run time if node was not
  // started with --expose-gc.
  setFlagsFromString('--expose-gc');
  const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as (() => void) | undefined);
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const memory = make();
  await memory.bootstrap();
  const m = memory.scim().tracking;
  await untilComplete(m.mirror!);
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const count = await m.mirrorStore!.count();
  const estimate = await m.mirrorStore!.bytes();
  await memory.close();
  let redisBytes: number | undefined;
  if (redisUrl) {
    const shared = make(redisUrl);
    await shared.bootstrap();
    const t = shared.scim().tracking;
    await untilComplete(t.mirror!);
    redisBytes = await t.mirrorStore!.bytes();
    await shared.close();
    // The bench's own keys go: a mirror of 100,000 is tens of MB in a Redis other suites share.
    const redis = new Redis(redisUrl);
    const prefix = `kscim:${limiterIdFor(sandbox.url, { kind: 'apiKey', apiKey: sandbox.apiKey }, 'changes')}:`;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }))
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    redis.disconnect();
  }
  await sandbox.close();
  return { count, heapGrowth: heapAfter - heapBefore, estimate, redisBytes, gc: Boolean(gc) };
}

function line(name: string, f: FlowFigures): string {
  return `  ${name.padEnd(12)} ${f.calls} Kit calls, ${f.perUser.toFixed(3)} per user; ${f.seconds.toFixed(1)} s = ${f.usersPerMinute.toFixed(0)} users/min at this window, ${f.usersPerKitMinute.toFixed(0)} users/min at Kit's 60 s window; ${f.idp429} 429s to the IdP\n      ${JSON.stringify(f.byEndpoint)}`;
}

export async function run(): Promise<void> {
  const redisUrl = process.env.REDIS_URL;
  console.log(
    `${USERS} Entra-style users, ${CONCURRENCY} at a time; Kit budget 120 calls per ${WINDOW_MS} ms (Kit's real window: 60,000 ms)`,
  );
  for (const mirror of process.env.BENCH_ONLY === 'mirror-memory' ? [] : [false, true]) {
    const r = await scenario(mirror);
    console.log(`mirror ${mirror ? 'on' : 'off'} (memory):`);
    console.log(line('create', r.create));
    console.log(line('group add', r.groupAdd));
    console.log(line('deprovision', r.deprovision));
  }
  const mem = await mirrorMemory(redisUrl);
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  console.log(
    `mirror of ${mem.count} subscribers: in process ${mb(mem.heapGrowth)} heap growth${mem.gc ? '' : ' (no --expose-gc: approximate)'}, ${mb(mem.estimate)} of records and indexes; in Redis ${mem.redisBytes === undefined ? 'not measured (no REDIS_URL)' : mb(mem.redisBytes)}`,
  );
}
