import { decodeJwt } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { oktaUser, patch } from '../support/harness';
import { client, processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';
import { expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// Tenants and security events: each tenant publishes its own security events, at its own poll endpoint, to its own
// receivers, counted under its own label.

const receiverToken = (id: string) => `receiver-${id}-token-0123456789abcdef0123456789`;

describe('security events of two tenants', () => {
  let kitA: KitSandbox;
  let kitB: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;
  const keys = mkdtempSync(join(tmpdir(), 'scim-tenant-events-'));

  const eventsEnv = (id: string) => ({
    PUBLIC_BASE_URL: 'https://scim.example',
    KIT_WEBHOOKS: 'off',
    SCIM_EVENTS_RECEIVERS: `iga=${receiverToken(id)}@https://iga.example/${id}`,
    SCIM_EVENTS_KEY_FILE: join(keys, `${id}.json`),
  });

  const poll = (tenant: string, token: string, from?: string, path = 'scim/v2/Events') =>
    request(service.app)
      .post(`/tenants/${tenant}/${path}`)
      .set('X-Forwarded-For', from ?? '127.0.0.1')
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ returnImmediately: true, maxEvents: 100 }));

  beforeAll(async () => {
    [kitA, kitB] = await Promise.all([sandboxFor(), sandboxFor()]);
    ({ service, close } = await startTenants(
      [tenantConfig('a', kitA, { env: eventsEnv('a') }), tenantConfig('b', kitB, { env: eventsEnv('b') })],
      processConfig(kitA, { TRUST_PROXY: 'true' }),
      // Past the budget, the next check waits a minute: a slow machine cannot open a slot mid-test.
      { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    ));
  });

  afterAll(async () => {
    await close();
    await Promise.all([kitA.close(), kitB.close()]);
    rmSync(keys, { recursive: true, force: true });
  });

  it("a deactivation in A reaches A's receiver only, and is counted under A", async () => {
    const a = client(service, tokenOf('a'));
    const made = await a.post('/tenants/a/scim/v2/Users', oktaUser(`evented.${unique()}@a.example`));
    expect(made.status).toBe(201);
    const off = await a.patch(
      `/tenants/a/scim/v2/Users/${made.body.id}`,
      patch({ op: 'replace', path: 'active', value: false }),
    );
    expect(off.status).toBe(200);
    await service.tenant('a')!.events!.publisher.idle();

    const ofA = await poll('a', receiverToken('a'));
    expect(ofA.status).toBe(200);
    expect(Object.keys(ofA.body.sets).length).toBeGreaterThan(0);
    // Signed by A, as A: its SETs name the tenant's own base as issuer.
    const [set] = Object.values(ofA.body.sets as Record<string, string>);
    expect(decodeJwt(set).iss).toBe('https://scim.example/tenants/a');
    const ofB = await poll('b', receiverToken('b'));
    expect(ofB.status).toBe(200);
    expect(ofB.body.sets).toEqual({});
    // A receiver's token opens its own tenant's endpoint only; at another's, it is a path that does not exist.
    const elsewhere = await poll('b', receiverToken('a'));
    expectScimError(elsewhere, 404);
    expect(elsewhere.body.sets).toBeUndefined();
    // In any letter case, as routing reaches the events endpoint in any.
    expectScimError(await poll('b', receiverToken('a'), undefined, 'SCIM/V2/events'), 404);
    expect((await poll('b', 'stranger-token-0123456789abcdef0123456789')).status).toBe(401);

    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toMatch(/scim_events_queued_total\{tenant="a",receiver="iga"\} [1-9]/);
    expect(metrics).not.toMatch(/scim_events_queued_total\{tenant="b",receiver="iga"\} [1-9]/);
    expect(metrics).toContain('scim_events_pending{tenant="b",receiver="iga"} 0');
    // The signing keys are the tenants' own.
    const jwksA = await request(service.app).get('/tenants/a/scim/v2/Events/jwks.json');
    const jwksB = await request(service.app).get('/tenants/b/scim/v2/Events/jwks.json');
    expect(jwksA.status).toBe(200);
    expect(JSON.parse(jwksA.text).keys[0].kid).not.toBe(JSON.parse(jwksB.text).keys[0].kid);
  });

  it("another tenant's receiver failing from an address is counted and throttled, never the right receiver", async () => {
    const from = '10.18.15.1';
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await poll('a', receiverToken('b'), from)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 404, 429, 429]);
    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toContain('scim_auth_failures_total{tenant="a",reason="other_tenant"} 6');
    expect(metrics).toMatch(/scim_auth_failures_total\{tenant="a",reason="throttled"\} 2/);
    // The right receivers at that address are served, each at its own tenant.
    expect((await poll('a', receiverToken('a'), from)).status).toBe(200);
    expect((await poll('b', receiverToken('b'), from)).status).toBe(200);
    // A stranger's token from there is refused unchecked.
    expectScimError(await poll('a', 'stranger-token-0123456789abcdef0123456789', from), 429);
  });
});
