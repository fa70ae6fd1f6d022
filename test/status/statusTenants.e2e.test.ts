import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import request from 'supertest';
import type { Service } from '../../src/app/service';
import { processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';

// /status on a server with several tenants: a chooser that lists only the tenants a token may open, each
// tenant's page naming its tenant, and the SANDBOX banner on every page of a tenant on the built-in sandbox.

const HOST = 'status.test';
const ORIGIN = `http://${HOST}`;

function cookiesOf(res: request.Response): Map<string, string> {
  const byPath = new Map<string, string>();
  for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const path = /Path=([^;]+)/.exec(c)?.[1] ?? '';
    byPath.set(path, c.split(';')[0]);
  }
  return byPath;
}

describe('/status with several tenants', () => {
  let sandbox: KitSandbox;
  let service: Service;
  let close: () => Promise<void>;

  beforeAll(async () => {
    sandbox = await sandboxFor();
    const shared = `shared-operator-token-0123456789abcdef01`;
    const both = { SCIM_READONLY_BEARER_TOKENS: `ops=${shared}` };
    ({ service, close } = await startTenants(
      [
        tenantConfig('alpha', sandbox, { env: both }),
        tenantConfig('beta', sandbox, { env: both }),
        { ...tenantConfig('gamma', sandbox), sandbox: true },
      ],
      processConfig(sandbox),
    ));
  });
  afterAll(async () => {
    await close?.();
    await sandbox?.close();
  });

  const login = (path: string, token: string) =>
    request(service.app).post(path).set('Host', HOST).set('Origin', ORIGIN).type('form').send({ token });

  it('answers /status with a sign-in for the chooser, never SCIM JSON', async () => {
    const res = await request(service.app).get('/status');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/status/login');
    const form = await request(service.app).get('/status/login');
    expect(form.status).toBe(200);
    expect(form.headers['content-type']).toMatch(/text\/html/);
    expect(form.text).toContain('This server serves several tenants');
    expect(form.text).not.toMatch(/alpha|beta|gamma/);
    expect((await login('/status/login', 'not-a-token-of-anyone-0123456789abcdef')).status).toBe(401);
  });

  it('lists the tenants a token may open, and signs in to exactly those pages', async () => {
    const res = await login('/status/login', 'shared-operator-token-0123456789abcdef01');
    expect(res.status).toBe(303);
    const cookies = cookiesOf(res);
    expect([...cookies.keys()].sort()).toEqual(['/status', '/tenants/alpha/status', '/tenants/beta/status']);
    const chooser = await request(service.app).get('/status').set('Cookie', cookies.get('/status')!);
    expect(chooser.status).toBe(200);
    expect(chooser.text).toContain('<a href="/tenants/alpha/status">alpha</a>');
    expect(chooser.text).toContain('<a href="/tenants/beta/status">beta</a>');
    expect(chooser.text).not.toContain('gamma');
    const alpha = await request(service.app)
      .get('/tenants/alpha/status')
      .set('Cookie', cookies.get('/tenants/alpha/status')!);
    expect(alpha.status).toBe(200);
    expect(alpha.text).toContain('<span class="tenant">tenant alpha</span>');
    expect(alpha.text).toContain('<title>convertkit-scim status: alpha</title>');
    // One tenant's cookie opens no other tenant's page.
    const cross = await request(service.app)
      .get('/tenants/gamma/status')
      .set('Cookie', cookies.get('/tenants/alpha/status')!);
    expect(cross.status).toBe(303);
    // A token of one tenant lists that tenant only.
    const gamma = cookiesOf(await login('/status/login', tokenOf('gamma')));
    const onlyGamma = await request(service.app).get('/status').set('Cookie', gamma.get('/status')!);
    expect(onlyGamma.text).toContain('<a href="/tenants/gamma/status">gamma</a>');
    expect(onlyGamma.text).not.toMatch(/alpha|beta/);
  });

  it('shows the SANDBOX banner on every page of a tenant on the built-in sandbox, and on no other', async () => {
    const banner = '<p class="sandbox-banner" role="alert">SANDBOX: ';
    const gammaLogin = await request(service.app).get('/tenants/gamma/status/login');
    expect(gammaLogin.text).toContain(banner);
    expect(gammaLogin.text).toContain('tenant gamma');
    const cookie = cookiesOf(await login('/tenants/gamma/status/login', tokenOf('gamma'))).get(
      '/tenants/gamma/status',
    )!;
    const page = await request(service.app).get('/tenants/gamma/status').set('Cookie', cookie);
    expect(page.text).toContain(banner);
    const chooser = cookiesOf(await login('/status/login', tokenOf('gamma'))).get('/status')!;
    expect((await request(service.app).get('/status').set('Cookie', chooser)).text).toContain(banner);
    expect((await request(service.app).get('/tenants/alpha/status/login')).text).not.toContain(banner);
  });
});
