import { type Harness, oktaUser, startHarness } from '../support/harness';
import { expectListResponse } from '../support/scim';
import { unique } from '../support/unique';

// Location and meta.location never reflect a Host header nobody vouched for (it would put an attacker's URL
// into what an IdP stores and follows). Discovery resources follow the same rule as Users and Groups.

const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
let n = 0;
const email = () => `loc.${unique()}.${n++}@example.com`;

async function urlsSeenWith(h: Harness, host: string): Promise<string[]> {
  const created = await h.post('/scim/v2/Users', oktaUser(email())).set('Host', host);
  expect(created.status).toBe(201);
  const group = await h.post('/scim/v2/Groups', { schemas: [CORE_GROUP], displayName: `loc-${n++}` }).set('Host', host);
  expect(group.status).toBe(201);
  const got = await h.get(`/scim/v2/Users/${created.body.id}`).set('Host', host);
  const listed = expectListResponse(await h.get('/scim/v2/Users?count=1').set('Host', host));
  const schemas = expectListResponse(await h.get('/scim/v2/Schemas').set('Host', host));
  const types = expectListResponse(await h.get('/scim/v2/ResourceTypes').set('Host', host));
  const one = await h.get('/scim/v2/ResourceTypes/User').set('Host', host);
  const config = await h.get('/scim/v2/ServiceProviderConfig').set('Host', host);
  return [
    created.headers.location,
    created.body.meta.location,
    group.headers.location,
    group.body.meta.location,
    got.body.meta.location,
    listed[0].meta.location,
    schemas[0].meta.location,
    types[0].meta.location,
    one.body.meta.location,
    config.body.meta.location,
  ];
}

describe('resource and discovery URLs', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('without configuration are relative, whatever Host the client sends', async () => {
    h = await startHarness();
    const urls = await urlsSeenWith(h, 'evil.example');
    for (const url of urls)
      expect(url).toMatch(/^\/scim\/v2\/(Users|Groups|Schemas|ResourceTypes|ServiceProviderConfig)/);
    expect(urls.join(' ')).not.toContain('evil');
    expect(urls[0]).toBe(urls[1]);
    expect(urls[6]).toBe('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    expect(urls[8]).toBe('/scim/v2/ResourceTypes/User');
    expect(urls[9]).toBe('/scim/v2/ServiceProviderConfig');
  });

  it('use the Host header only when it is in SCIM_ALLOWED_HOSTS', async () => {
    h = await startHarness({ env: { SCIM_ALLOWED_HOSTS: 'scim.example.com,localhost:8080' } });
    for (const url of await urlsSeenWith(h, 'SCIM.example.com'))
      expect(url).toMatch(/^http:\/\/scim\.example\.com\/scim\/v2\//);
    for (const url of await urlsSeenWith(h, 'localhost:8080'))
      expect(url).toMatch(/^http:\/\/localhost:8080\/scim\/v2\//);
    // Not listed: a port the operator did not name, or another host.
    for (const url of [...(await urlsSeenWith(h, 'scim.example.com:9999')), ...(await urlsSeenWith(h, 'evil.example'))])
      expect(url).toMatch(/^\/scim\/v2\//);
  });

  it('come from PUBLIC_BASE_URL when it is set, whatever Host the client sends', async () => {
    h = await startHarness({
      env: { PUBLIC_BASE_URL: 'https://scim.example.com/kit', SCIM_ALLOWED_HOSTS: 'other.example' },
    });
    const urls = await urlsSeenWith(h, 'evil.example');
    for (const url of urls) expect(url).toMatch(/^https:\/\/scim\.example\.com\/kit\/scim\/v2\//);
    expect(urls[8]).toBe('https://scim.example.com/kit/scim/v2/ResourceTypes/User');
    for (const url of await urlsSeenWith(h, 'other.example')) expect(url).toMatch(/^https:\/\/scim\.example\.com\//);
  });
});

describe('discovery lists', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('say itemsPerPage is the number of resources they hold', async () => {
    const schemas = await h.get('/scim/v2/Schemas');
    expect(expectListResponse(schemas, 4)).toHaveLength(4);
    expect(schemas.body.itemsPerPage).toBe(4);
    const types = await h.get('/scim/v2/ResourceTypes');
    expect(expectListResponse(types, 2)).toHaveLength(2);
    expect(types.body.itemsPerPage).toBe(2);
    expect(types.body.startIndex).toBe(1);
  });
});
