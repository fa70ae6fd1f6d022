import axios from 'axios';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { SCIM_EVENT } from '../src/events/securityEvent';
import { maxInWindow } from '../src/kit/spacing';
import { PushReceiver } from '../test/events/receiver';
import {
  ClusterTopology,
  failoverServerEnv,
  hasRedisTopologies,
  SentinelTopology,
} from '../test/support/redisTopologies';
import { type ServerProcess, startServerProcess } from '../test/support/serverProcess';

// `npm run bench -- redisFailover`: per topology (sentinel, cluster), two server processes provision users
// through the Kit sandbox while the Redis primary (cluster: one shard's) is killed. Prints the seconds of degraded
// service (from the kill until both replicas answer 201 again), what the IdP saw (status codes), whether Kit's
// window held, and what a push receiver configured on both saw: SETs per change (one per jti), re-sends of a jti,
// and created users never announced.

const TOKEN = 'bench-failover-token-0123456789abcdef0123';
const PUSH_TOKEN = 'bench-failover-push-0123456789abcdef01234';

async function measure(name: string, redisEnv: Record<string, string>, kill: () => Promise<unknown>) {
  const sandbox: KitSandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
  const receiver = await new PushReceiver(PUSH_TOKEN).start();
  const env = failoverServerEnv({
    redisEnv,
    kit: sandbox,
    scimToken: TOKEN,
    push: { token: PUSH_TOKEN, url: receiver.url },
  });
  const servers: ServerProcess[] = await Promise.all([
    startServerProcess(env, 90_000),
    startServerProcess(env, 90_000),
  ]);
  try {
    const statuses = new Map<number, number>();
    const lastSuccess = [0, 0];
    const created: string[] = [];
    let stop = false;
    let n = 0;
    const loops = servers.map(async (s, i) => {
      while (!stop) {
        const res = await axios.post(
          `${s.url}/scim/v2/Users`,
          { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `bench-${i}-${n++}@kit.example` },
          { headers: { Authorization: `Bearer ${TOKEN}` }, validateStatus: () => true },
        );
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) {
          lastSuccess[i] = Date.now();
          created.push(String((res.data as { id: string }).id));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 3000));
    sandbox.resetCalls();
    const killedAt = Date.now();
    await kill();
    while (!lastSuccess.every((t) => t > killedAt) && Date.now() - killedAt < 60_000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const degraded = (Math.max(...lastSuccess) - killedAt) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    await Promise.all(loops);
    const calls = sandbox.calls();
    const announced = (id: string) => receiver.setsPerChange().get(`/Users/${id} ${SCIM_EVENT.createNotice}`);
    const settleBy = Date.now() + 30_000;
    while (created.some((id) => !announced(id)) && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 200));
    const perChange = [...receiver.setsPerChange().values()];
    const histogram = new Map<number, number>();
    for (const n of perChange) histogram.set(n, (histogram.get(n) ?? 0) + 1);
    console.log(
      `${name.padEnd(9)} degraded ${degraded.toFixed(1)} s · IdP saw ${[...statuses]
        .map(([s, c]) => `${s}×${c}`)
        .join(' ')} · Kit: ${calls.total} calls, max ${maxInWindow(
        calls.log.map((c) => c.at),
        2000,
      )} per 2 s window (limit 20), ${calls.rateLimited} × 429`,
    );
    console.log(
      `${''.padEnd(9)} receiver: ${perChange.length} changes, SETs per change ${[...histogram]
        .map(([sets, changes]) => `${sets}→${changes}`)
        .join(' ')} · ${receiver.deliveries.length - receiver.received.length} re-sent under the same jti · ${
        created.filter((id) => !announced(id)).length
      } of ${created.length} created never announced`,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await receiver.close();
    await sandbox.close();
  }
}

export async function run(): Promise<void> {
  if (!hasRedisTopologies) {
    console.log('!!! SKIPPED: redis-server and redis-cli are needed !!!');
    return;
  }
  const sentinel = await SentinelTopology.start();
  try {
    await measure('sentinel', sentinel.env, () => sentinel.failOver());
  } finally {
    await sentinel.stop();
  }
  const cluster = await ClusterTopology.start();
  try {
    await measure('cluster', cluster.env, async () => cluster.failOver((await cluster.primaryPorts())[0]!));
  } finally {
    await cluster.stop();
  }
}
