import request from 'supertest';
import { maxInWindow } from '../../src/kit/spacing';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { describeRedis, redisUrl } from '../support/redis';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';

const TOKEN = 'replica-v3-token-0123456789abcdef012345';

// Kit v3 walks go over page numbers, carried as cursors through the same Redis page cache and shared limiter as
// v4's: two replicas serve one walk alternately without reading any Kit page twice.
describeRedis('two replicas on Kit v3 sharing one Redis', () => {
  let sandbox: KitSandbox;
  let replicas: ServerProcess[];
  const N = 600;

  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 20, windowMs: 2000 } });
    sandbox.store.seedSubscribers(N, { emailPrefix: 'replica-v3-' });
    const env = {
      KIT_API_URL: sandbox.url,
      KIT_API_VERSION: 'v3',
      KIT_API_SECRET: sandbox.apiSecret,
      SCIM_BEARER_TOKENS: `iga=${TOKEN}`,
      REDIS_URL: redisUrl!,
      // Exact page counts need Redis in use throughout. On a loaded CI machine a server's event loop can stall
      // past the default 1 s, and ioredis's timer then fires before a reply already waiting is read: Redis
      // would be declared away for a stall, and one page read from Kit again (correct, but not what this counts).
      REDIS_COMMAND_TIMEOUT_MS: '10000',
      KIT_RATE_LIMIT_PER_MINUTE: '20',
      KIT_RATE_WINDOW_MS: '2000',
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'info',
    };
    replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  }, 60000);

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await sandbox?.close();
  });

  it('serves one walk alternately from both replicas with one Kit call per 50 users, plus 2', async () => {
    sandbox.resetCalls();
    const seen: string[] = [];
    let total = 0;
    for (let page = 0, start = 1; ; page++, start += 100) {
      const res = await request(replicas[page % 2].url)
        .get(`/scim/v2/Users?startIndex=${start}&count=100&excludedAttributes=groups`)
        .set('Authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(200);
      total = res.body.totalResults;
      seen.push(...res.body.Resources.map((u: any) => u.id));
      if (start + 100 > total) break;
    }
    expect(total).toBe(N);
    expect(new Set(seen).size).toBe(N);
    for (const replica of replicas) expect(replica.output()).not.toContain('Redis unavailable');
    const calls = sandbox.calls();
    // 12 active pages; the (empty) unsubscribed list's total; the deleted-user count. No page is read twice.
    expect(calls.byEndpoint['GET /v3/subscribers']).toBe(N / 50 + 1);
    expect(calls.total).toBe(N / 50 + 2);
    expect(calls.rateLimited).toBe(0);
    expect(
      maxInWindow(
        calls.log.map((c) => c.at),
        2000,
      ),
    ).toBeLessThanOrEqual(20);
  }, 60000);
});
