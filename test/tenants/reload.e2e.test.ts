import request from 'supertest';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { oktaUser } from '../support/harness';
import { eventually } from '../support/privateRedis';
import { expectListResponse, expectScimError } from '../support/scim';
import {
  client,
  processConfig,
  sandboxFor,
  startTenants,
  tenantConfig,
  tenantsConfig,
  tokenOf,
} from '../support/tenants';
import { unique } from '../support/unique';

// The tenants file reloaded (SIGHUP) while requests are in flight: added tenants serve, removed ones
// answer 404 to new requests while the requests already inside them complete, changed ones take their new
// settings, and tenants whose entry did not change are left alone.

describe('reloading the tenants', () => {
  let kitA: KitSandbox;
  let kitB: KitSandbox;
  let kitC: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    [kitA, kitB, kitC] = await Promise.all([sandboxFor(), sandboxFor(), sandboxFor()]);
    ({ service, close } = await startTenants([tenantConfig('a', kitA), tenantConfig('b', kitB)], processConfig(kitA)));
  });

  afterAll(async () => {
    await close();
    await Promise.all([kitA.close(), kitB.close(), kitC.close()]);
  });

  it('adds a tenant and removes another while requests are in flight', async () => {
    const a = service.tenant('a')!;
    const b = service.tenant('b')!;
    // Warm B's index first, so the requests below are the only Kit calls B's sandbox sees.
    await b.scim().membership.membershipIndex({ priority: 'background' });
    kitB.resetCalls();
    kitB.setFaults({ latencyMs: 400 });
    const inFlight = [1, 2, 3].map((n) =>
      client(service, tokenOf('b'))
        .post('/tenants/b/scim/v2/Users', oktaUser(`inflight.${n}.${unique()}@b.example`))
        .then((res) => res),
    );
    // Inside B: each has reached B's Kit account (and waits there for the injected latency).
    await eventually(() => kitB.calls().total >= 3, 300, 10);

    const outcome = await service.reload(tenantsConfig([tenantConfig('a', kitA), tenantConfig('c', kitC)]));
    expect(outcome).toEqual({ added: ['c'], removed: ['b'], changed: [], unchanged: ['a'] });

    // New requests to B: gone, at once.
    const gone = await client(service, tokenOf('b')).get('/tenants/b/scim/v2/Users');
    expectScimError(gone, 404);
    // C serves, A is the very same tenant, not rebuilt.
    expectListResponse(await client(service, tokenOf('c')).get('/tenants/c/scim/v2/Users'));
    expect(service.tenant('a')).toBe(a);
    expect(service.tenant('b')).toBeUndefined();
    expect((await client(service, tokenOf('a')).get('/tenants/a/scim/v2/Users')).status).toBe(200);

    // The requests that were inside B complete, and B's Kit account got the users.
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
    for (const r of answers) expect(kitB.store.getSubscriber(Number(r.body.id))).toBeDefined();
    kitB.resetFaults();
    // Then B closes: its background work stops, and its limiter (its own credential) with it.
    await service.retired();
    expect(b.readiness.report().shuttingDown).toBe(true);
    await expect(b.limiter.schedule(async () => 'never')).rejects.toThrow();
    // The process readiness lists the tenants now served.
    const ready = await request(service.app).get('/readyz');
    expect(Object.keys(ready.body.tenants).sort()).toEqual(['a', 'c']);
  });

  it('a changed tenant takes its new token and refuses the old one; the others are untouched', async () => {
    const a = service.tenant('a')!;
    const c = service.tenant('c')!;
    const outcome = await service.reload(
      tenantsConfig([tenantConfig('a', kitA, { tokenGeneration: 1 }), tenantConfig('c', kitC)]),
    );
    expect(outcome).toEqual({ added: [], removed: [], changed: ['a'], unchanged: ['c'] });
    expect(service.tenant('a')).not.toBe(a);
    expect(service.tenant('c')).toBe(c);
    expectScimError(await client(service, tokenOf('a', 0)).get('/tenants/a/scim/v2/Users'), 401);
    expect((await client(service, tokenOf('a', 1)).get('/tenants/a/scim/v2/Users')).status).toBe(200);
    await service.retired();
  });

  it('a configuration that cannot run is refused whole, and the running one kept', async () => {
    const before = service.tenants();
    await expect(
      service.reload(tenantsConfig([tenantConfig('c', kitC), tenantConfig('c', kitA), tenantConfig('d', kitB)])),
    ).rejects.toThrow(/twice/);
    expect(service.tenants()).toEqual(before);
    expect(service.tenant('d')).toBeUndefined();
    expect((await client(service, tokenOf('c')).get('/tenants/c/scim/v2/Users')).status).toBe(200);
  });

  it('reloads run one at a time, each against what the previous one left', async () => {
    const [first, second] = await Promise.all([
      service.reload(
        tenantsConfig([
          tenantConfig('a', kitA, { tokenGeneration: 1 }),
          tenantConfig('c', kitC),
          tenantConfig('d', kitB),
        ]),
      ),
      service.reload(tenantsConfig([tenantConfig('a', kitA, { tokenGeneration: 1 }), tenantConfig('d', kitB)])),
    ]);
    expect(first.added).toEqual(['d']);
    expect(second).toEqual({ added: [], removed: ['c'], changed: [], unchanged: ['a', 'd'] });
    expect((await client(service, tokenOf('d')).get('/tenants/d/scim/v2/Users')).status).toBe(200);
    await service.retired();
  });
});

describe('a single tenant in the tenants file', () => {
  let kit: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    kit = await sandboxFor();
    ({ service, close } = await startTenants([tenantConfig('solo', kit)], processConfig(kit)));
  });

  afterAll(async () => {
    await close();
    await kit.close();
  });

  it('serves at /scim/v2 too, with Locations under the path used; a second tenant ends that', async () => {
    const made = await client(service, tokenOf('solo')).post(
      '/scim/v2/Users',
      oktaUser(`solo.${unique()}@solo.example`),
    );
    expect(made.status).toBe(201);
    expect(made.headers.location).toBe(`/scim/v2/Users/${made.body.id}`);
    const again = await client(service, tokenOf('solo')).get(`/tenants/solo/scim/v2/Users/${made.body.id}`);
    expect(again.body.meta.location).toBe(`/tenants/solo/scim/v2/Users/${made.body.id}`);

    const other = await sandboxFor();
    try {
      await service.reload(tenantsConfig([tenantConfig('solo', kit), tenantConfig('duo', other)]));
      expectScimError(await client(service, tokenOf('solo')).get('/scim/v2/Users'), 404);
      expect((await client(service, tokenOf('solo')).get('/tenants/solo/scim/v2/Users')).status).toBe(200);
      await service.reload(tenantsConfig([tenantConfig('solo', kit)]));
      await service.retired();
    } finally {
      await other.close();
    }
  });
});
