import request from 'supertest';
import { type Harness, oktaUser, READONLY_TOKEN, startHarness } from '../support/harness';
import { expectScimError } from '../support/scim';
import { unique } from '../support/unique';

describe('errors and auth at the HTTP edge', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_MAX_BODY_BYTES: '2048' } });
  });
  afterAll(() => h.close());

  it('answers 401 as a SCIM error and never echoes the token', async () => {
    const res = await request(h.service.app).get('/scim/v2/Users').set('Authorization', 'Bearer not-the-token-xyz');
    expectScimError(res, 401);
    expect(JSON.stringify(res.body)).not.toContain('not-the-token-xyz');
    expectScimError(await request(h.service.app).get('/scim/v2/Users'), 401);
    expectScimError(await request(h.service.app).get('/metrics'), 401);
  });

  it('leaves only health reachable without credentials', async () => {
    expect((await request(h.service.app).get('/healthz')).status).toBe(200);
    expect((await request(h.service.app).get('/readyz')).status).toBe(200);
    expectScimError(await request(h.service.app).get('/scim/v2/ServiceProviderConfig'), 401);
  });

  it('lets a read-only token read but not write', async () => {
    const read = await request(h.service.app)
      .get('/scim/v2/Users?count=1')
      .set('Authorization', `Bearer ${READONLY_TOKEN}`);
    expect(read.status).toBe(200);
    const write = await request(h.service.app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${READONLY_TOKEN}`)
      .send(oktaUser('ro@example.com'));
    expectScimError(write, 403);
  });

  it('answers malformed JSON, oversized bodies, unknown routes and bad input with SCIM errors', async () => {
    const bad = await h.post('/scim/v2/Users').set('Content-Type', 'application/scim+json').send('{"userName": ');
    expectScimError(bad, 400, 'invalidSyntax');
    const big = await h.post('/scim/v2/Users', oktaUser('big@example.com', { displayName: 'x'.repeat(5000) }));
    expectScimError(big, 413);
    expectScimError(await h.get('/scim/v2/Nope'), 404);
    expectScimError(await h.get('/nope'), 404);
    expectScimError(
      await h.post('/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }),
      400,
      'invalidValue',
    );
    expectScimError(await h.post('/scim/v2/Users', [1, 2]), 400, 'invalidSyntax');
    expectScimError(await h.get('/scim/v2/Users?filter=userName%20eq'), 400, 'invalidFilter');
    expectScimError(await h.get('/scim/v2/Users?count=abc'), 400, 'invalidValue');
    expectScimError(
      await h.post('/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'noemail' }),
      400,
      'invalidValue',
    );
  });

  it('tells the truth in ServiceProviderConfig', async () => {
    const res = await h.get('/scim/v2/ServiceProviderConfig');
    expect(res.status).toBe(200);
    expect(res.body.bulk.supported).toBe(false);
    expect(res.body.patch.supported).toBe(true);
    expect(res.body.filter.supported).toBe(true);
    expect(res.body.etag.supported).toBe(true);
    expect(res.body.changePassword.supported).toBe(false);
    expect(res.body.authenticationSchemes[0].type).toBe('oauthbearertoken');
  });

  it('describes each app’s own authentication, whichever app the process built last', async () => {
    const jwt = await startHarness({
      env: {
        SCIM_JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
        SCIM_JWT_ISSUER: 'https://issuer.example',
        SCIM_JWT_AUDIENCE: 'convertkit-scim',
      },
    });
    const plain = await startHarness();
    try {
      const describe = async (app: Harness) =>
        (await app.get('/scim/v2/ServiceProviderConfig')).body.authenticationSchemes[0].description as string;
      expect(await describe(jwt)).toMatch(/JWT/);
      expect(await describe(plain)).not.toMatch(/JWT/);
      expect(await describe(jwt)).toMatch(/JWT/);
    } finally {
      await plain.close();
      await jwt.close();
    }
  });

  it('lists one authentication scheme however many apps the process built', async () => {
    const again = await startHarness();
    try {
      const res = await again.get('/scim/v2/ServiceProviderConfig');
      expect(res.body.authenticationSchemes).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('answers unsupported discovery requests in plain words, never with internals or a 500', async () => {
    expectScimError(await h.get('/scim/v2/ServiceProviderConfig?filter=x'), 403);
    const search = await h.get('/scim/v2/.search');
    expectScimError(search, 501);
    expect(search.body.detail).toMatch(/POST \/\.search/);
    const me = await h.get('/scim/v2/Me');
    expectScimError(me, 501);
    expect(me.body.detail).not.toMatch(/egress/);
  });

  it('keeps schemas on a resource whatever attributes asked for', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`attrs.${unique()}@example.com`));
    const res = await h.get(`/scim/v2/Users/${created.body.id}?attributes=userName`);
    expect(res.body).toEqual({
      schemas: expect.arrayContaining(['urn:ietf:params:scim:schemas:core:2.0:User']),
      id: created.body.id,
      userName: created.body.userName,
    });
  });

  it('describes the Kit extension schema and the resource types', async () => {
    const schemas = await h.get('/scim/v2/Schemas');
    const ids = schemas.body.Resources.map((s: any) => s.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'urn:ietf:params:scim:schemas:core:2.0:User',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
        'urn:ietf:params:scim:schemas:extension:kit:2.0:User',
      ]),
    );
    const user = schemas.body.Resources.find((s: any) => s.id.endsWith('core:2.0:User'));
    expect(user.attributes.map((a: any) => a.name)).not.toContain('phoneNumbers');
    const types = await h.get('/scim/v2/ResourceTypes');
    expect(types.body.Resources.map((t: any) => t.name)).toEqual(expect.arrayContaining(['User', 'Group']));
  });
});

describe('an upstream outage is never reported as a deletion', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { KIT_TIMEOUT_MS: '1000' } });
  });
  afterAll(() => h.close());

  it('answers 503 with Retry-After, never 404 and never an empty list, while Kit answers 500', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`outage.${unique()}@example.com`));
    expect(created.status).toBe(201);
    h.sandbox.setFaults({ errorRate: 1 });
    try {
      for (const res of [
        await h.get(`/scim/v2/Users/${created.body.id}`),
        await h.get('/scim/v2/Users'),
        await h.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${created.body.userName}"`)}`),
        await h.del(`/scim/v2/Users/${created.body.id}`),
      ]) {
        expectScimError(res, 503);
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    } finally {
      h.sandbox.resetFaults();
    }
    const after = await h.get(`/scim/v2/Users/${created.body.id}`);
    expect(after.status).toBe(200);
  });

  it('answers 502 (never 401) when Kit rejects our own credentials', async () => {
    const { loadConfig } = await import('../../src/config/environment');
    const { Service } = await import('../../src/app/service');
    const pino = (await import('pino')).default;
    const config = loadConfig({
      KIT_API_URL: h.sandbox.url,
      KIT_API_KEY: 'wrong-kit-key',
      SCIM_BEARER_TOKENS: 'okta=test-token-0123456789abcdef0123456789',
      AUDIT_LOG: 'off',
    });
    const service = new Service({ config, logger: pino({ level: 'silent' }) });
    try {
      await service.bootstrap();
      const ready = await request(service.app).get('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.body)).not.toContain('wrong-kit-key');
      const res = await request(service.app)
        .get('/scim/v2/Users')
        .set('Authorization', 'Bearer test-token-0123456789abcdef0123456789');
      expect([502, 503]).toContain(res.status);
      expect(JSON.stringify(res.body)).not.toContain('wrong-kit-key');
    } finally {
      await service.close();
    }
  });
});
