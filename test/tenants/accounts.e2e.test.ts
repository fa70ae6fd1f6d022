import request from 'supertest';
import type { KitSandbox, SandboxAccount } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { oktaUser } from '../support/harness';
import { expectScimError } from '../support/scim';
import { client, processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';
import { unique } from '../support/unique';

// Tenants on one Kit sandbox hosting several accounts, as Kit serves every account at one URL: tenants told
// apart by their Kit keys alone, a key revoked while its tenant serves, and a mapping file per tenant.

const PHONE_USER = (email: string) => ({
  ...oktaUser(email),
  phoneNumbers: [{ type: 'work', value: '+1 555 0100' }],
});

describe('tenants on accounts of one Kit', () => {
  let kit: KitSandbox;
  let north: SandboxAccount;
  let south: SandboxAccount;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    kit = await sandboxFor();
    north = kit.createAccount();
    south = kit.createAccount();
    ({ service, close } = await startTenants(
      [
        // North stores what Entra sends (phone numbers among it); south keeps the default mapping.
        tenantConfig('north', kit, {
          kitKey: north.apiKey,
          env: { SCIM_MAPPING_FILE: 'mapping/entra-validator.yaml' },
        }),
        tenantConfig('south', kit, { kitKey: south.apiKey }),
      ],
      processConfig(kit),
    ));
  });

  afterAll(async () => {
    await close();
    await kit.close();
  });

  it('keeps each tenant on its own account: one URL, two keys, two limiters', async () => {
    expect(service.tenant('north')!.limiter).not.toBe(service.tenant('south')!.limiter);
    north.resetCalls();
    south.resetCalls();
    const email = `both.${unique()}@example.com`;
    const inNorth = await client(service, tokenOf('north')).post('/tenants/north/scim/v2/Users', oktaUser(email));
    const inSouth = await client(service, tokenOf('south')).post('/tenants/south/scim/v2/Users', oktaUser(email));
    expect(inNorth.status).toBe(201);
    expect(inSouth.status).toBe(201);
    // One email, two Kit accounts: two subscribers, each in its own account only.
    expect(north.calls().byEndpoint['POST /v4/subscribers']).toBeGreaterThanOrEqual(1);
    expect(south.calls().byEndpoint['POST /v4/subscribers']).toBeGreaterThanOrEqual(1);
    const listed = async (id: string) =>
      (await client(service, tokenOf(id)).get(`/tenants/${id}/scim/v2/Users?filter=userName eq "${email}"`)).body;
    expect((await listed('north')).totalResults).toBe(1);
    expect((await listed('south')).totalResults).toBe(1);
    expect(kit.defaultAccount.calls().byEndpoint['POST /v4/subscribers'] ?? 0).toBe(0);
  });

  it("follows each tenant's own mapping: /Schemas, and which attributes are stored", async () => {
    const schemaOf = async (id: string) =>
      (
        await client(service, tokenOf(id)).get(
          `/tenants/${id}/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User`,
        )
      ).body;
    const names = (schema: { attributes: Array<{ name: string }> }) => schema.attributes.map((a) => a.name);
    expect(names(await schemaOf('north'))).toContain('phoneNumbers');
    expect(names(await schemaOf('south'))).not.toContain('phoneNumbers');

    // Concurrently, so neither tenant's requests can lean on a schema the other just declared.
    const [n, s] = await Promise.all([
      client(service, tokenOf('north')).post('/tenants/north/scim/v2/Users', PHONE_USER(`ph.${unique()}@n.example`)),
      client(service, tokenOf('south')).post('/tenants/south/scim/v2/Users', PHONE_USER(`ph.${unique()}@s.example`)),
    ]);
    expect(n.status).toBe(201);
    expect(n.body.phoneNumbers).toEqual([expect.objectContaining({ type: 'work', value: '+1 555 0100' })]);
    expect(s.status).toBe(201);
    expect(s.body.phoneNumbers).toBeUndefined();
    const northRead = await client(service, tokenOf('north')).get(`/tenants/north/scim/v2/Users/${n.body.id}`);
    expect(northRead.body.phoneNumbers?.[0]?.value).toBe('+1 555 0100');
  });

  it('a key revoked while its tenant serves: that tenant turns not ready, the other serves on; restored, it is back', async () => {
    const southUsers = () => client(service, tokenOf('south')).get('/tenants/south/scim/v2/Users');
    expect((await request(service.app).get('/tenants/south/readyz')).status).toBe(200);
    kit.revokeKey(south.apiKey);
    try {
      const refused = await southUsers();
      // Kit refusing our own credential is never a 401 to the IdP (docs/provisioning.md "Errors").
      expect(refused.status).toBeGreaterThanOrEqual(500);
      expect(JSON.stringify(refused.body)).not.toContain(south.apiKey);
      const ready = await request(service.app).get('/tenants/south/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.kit.ok).toBe(false);
      const all = await request(service.app).get('/readyz');
      expect(all.status).toBe(200);
      expect(all.body.tenants.south.status).toBe('unavailable');
      expect(all.body.tenants.north.status).toBe('ok');
      const made = await client(service, tokenOf('north')).post(
        '/tenants/north/scim/v2/Users',
        oktaUser(`during.${unique()}@n.example`),
      );
      expect(made.status).toBe(201);
    } finally {
      kit.restoreKey(south.apiKey);
    }
    expect((await southUsers()).status).toBe(200);
    expect((await request(service.app).get('/tenants/south/readyz')).status).toBe(200);
  });

  it("another tenant's token on this account's path is 404 and costs no Kit call", async () => {
    north.resetCalls();
    south.resetCalls();
    expectScimError(await client(service, tokenOf('south')).get('/tenants/north/scim/v2/Users'), 404);
    expect(north.calls().total).toBe(0);
    expect(south.calls().total).toBe(0);
  });
});
