import Redis from 'ioredis';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { oktaUser } from '../support/harness';
import { hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { client, processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';
import { unique } from '../support/unique';

// What a tenant keeps in Redis is keyed by tenant. The tenant `default` keeps the unprefixed keys of a server without a
// tenants file (adding the file keeps its caches and journal); another tenant's keys carry its id, so two tenants on
// one Kit account never share a cache or a journal.

(hasRedisServer ? describe : describe.skip)('Redis keys of two tenants on one Kit account', () => {
  let redis: PrivateRedis;
  let kit: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;
  let reader: Redis;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    kit = await sandboxFor();
    ({ service, close } = await startTenants(
      [
        tenantConfig('default', kit, { env: { GROUP_TAG_PREFIX: 'x:' } }),
        tenantConfig('b', kit, { env: { GROUP_TAG_PREFIX: 'y:' } }),
      ],
      processConfig(kit, { REDIS_URL: redis.url }),
    ));
    reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await reader.connect();
  });

  afterAll(async () => {
    reader?.disconnect();
    await close();
    await kit.close();
    await redis?.stop();
  });

  it("keeps `default`'s keys unprefixed and puts the other tenant's under its id", async () => {
    for (const id of ['default', 'b']) {
      const c = client(service, tokenOf(id));
      expect((await c.post(`/tenants/${id}/scim/v2/Users`, oktaUser(`${id}.${unique()}@kit.example`))).status).toBe(
        201,
      );
      expect((await c.get(`/tenants/${id}/scim/v2/Users?startIndex=1&count=10`)).status).toBe(200);
    }
    const keys = await reader.keys('kscim:*');
    const ofB = keys.filter((k) => k.startsWith('kscim:tenant:{b:'));
    const ofDefault = keys.filter((k) => /^kscim:\{(cache|changes)-/.test(k));
    expect(ofB.length).toBeGreaterThan(0);
    expect(ofDefault.length).toBeGreaterThan(0);
    // The same namespaces, apart: every key of B's is a key of default's with B's prefix in front.
    const namespaces = (ks: string[], strip: string) => new Set(ks.map((k) => k.slice(strip.length).split('-')[0]));
    expect([...namespaces(ofB, 'kscim:tenant:{b:')].sort()).toEqual(['cache', 'changes']);
    expect([...namespaces(ofDefault, 'kscim:{')].sort()).toEqual(['cache', 'changes']);
    // Kit's budget is the credential's, whoever spends it: one limiter key for both tenants.
    expect(new Set(keys.filter((k) => k.startsWith('kscim:limiter:')).map((k) => k.split(':')[2])).size).toBe(1);
    expect(keys.some((k) => k.startsWith('kscim:tenant:{default:'))).toBe(false);
  });
});
