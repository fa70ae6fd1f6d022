import request from 'supertest';
import { maxInWindow } from '../../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { describeRedis, redisUrl } from '../support/redis';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';

const TOKEN = 'replica-token-0123456789abcdef0123456789';

describeRedis('two replicas sharing one Redis', () => {
  let sandbox: KitSandbox;
  let replicas: ServerProcess[];
  const N = 2500;

  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
    sandbox.store.seedSubscribers(N, { emailPrefix: 'replica-' });
    const env = {
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
      REDIS_URL: redisUrl!,
      // 16 of Kit's 20 per 2 s, as an operator leaves headroom: the limiter's own safety margin at a 2 s window
      // is 100 ms (5 %), less than a CPU-starved machine's timer lateness; the 4 calls between (~500 ms of
      // bunching) cover it. Two unshared limiters would still send 32 per 2 s and meet Kit's 429.
      KIT_RATE_LIMIT_PER_MINUTE: '16',
      KIT_RATE_WINDOW_MS: '2000',
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'info',
    };
    // Both started before anything is asserted: one that started must be stopped even if the other failed.
    const started = await Promise.allSettled([startServerProcess(env), startServerProcess(env)]);
    replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }, 60000);

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await sandbox?.close();
  });

  it('serves one walk alternately from both replicas within ceil(N/1000) + 2 Kit calls', async () => {
    sandbox.resetCalls();
    const seen: string[] = [];
    let total = 0;
    for (let page = 0, start = 1; ; page++, start += 100) {
      const replica = replicas[page % 2];
      const res = await request(replica.url)
        .get(`/scim/v2/Users?startIndex=${start}&count=100&excludedAttributes=groups`)
        .set('Authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(200);
      total = res.body.totalResults;
      seen.push(...res.body.Resources.map((u: any) => u.id));
      if (start + 100 > total) break;
    }
    expect(total).toBe(N);
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    const calls = sandbox.calls();
    expect(calls.total).toBeLessThanOrEqual(Math.ceil(N / 1000) + 2);
    expect(calls.rateLimited).toBe(0);
  });

  it('shares one limiter: together the replicas never exceed the rolling window and meet no 429', async () => {
    sandbox.resetCalls();
    const ids = sandbox.store.seedSubscribers(30, { emailPrefix: 'burst-' }).ids;
    const results = await Promise.all(
      ids.flatMap((id) =>
        replicas.map((r) =>
          request(r.url).get(`/scim/v2/Users/${id}?excludedAttributes=groups`).set('Authorization', `Bearer ${TOKEN}`),
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const calls = sandbox.calls();
    expect(calls.rateLimited).toBe(0);
    expect(calls.total).toBe(60);
    expect(
      maxInWindow(
        calls.log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(20);
  }, 60000);
});
