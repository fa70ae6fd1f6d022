import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { stampClock } from '../support/clock';
import { type Harness, patch, startHarness } from '../support/harness';
import { expectListResponse } from '../support/scim';
import { describeRedis, redisUrl } from '../support/redis';
import { unique } from '../support/unique';

// With Redis, a Group's stamp is shared by every replica and outlives a restart: Kit keeps no modification time
// of a tag, so a stamp kept only in memory would make a restarted server answer the creation time again.

describeRedis('Group stamps in Redis', () => {
  let sandbox: KitSandbox;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const at = (ms: number) => new Date(ms).toISOString();
  const start = () =>
    startHarness({ kitSandbox: sandbox, clock: stampClock(() => clock), env: { REDIS_URL: redisUrl! } });
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
  });
  afterAll(() => sandbox?.close());

  it('a rename stamped by one server is the lastModified another one answers after a restart', async () => {
    let a: Harness | undefined = await start();
    let b: Harness | undefined;
    try {
      const created = await a.post('/scim/v2/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: `Stamped ${unique()}`,
      });
      expect(created.status).toBe(201);
      const id = created.body.id;
      clock += 60_000;
      const t0 = clock;
      clock += 60_000;
      const renamed = await a.patch(
        `/scim/v2/Groups/${id}`,
        patch({ op: 'replace', path: 'displayName', value: `Renamed ${unique()}` }),
      );
      expect(renamed.status).toBe(204);
      const stamped = clock;
      await a.close();
      a = undefined;

      clock += 60_000;
      b = await start();
      const got = await b.get(`/scim/v2/Groups/${id}`);
      expect(got.body.meta.lastModified).toBe(at(stamped));
      const delta = expectListResponse(
        await b.get(`/scim/v2/Groups?filter=${encodeURIComponent(`meta.lastModified gt "${at(t0)}"`)}`),
      );
      expect(delta.map((g) => g.id)).toEqual([id]);
    } finally {
      await a?.close();
      await b?.close();
    }
  });
});
