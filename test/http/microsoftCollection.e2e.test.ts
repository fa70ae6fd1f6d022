import request from 'supertest';
import { type Harness, startHarness } from '../support/harness';
import { expectScimError, scimFixture } from '../support/scim';

// Requests of Microsoft's SCIM reference collection (AzureAD/SCIMReferenceCode's Postman collection) that any
// mapping must answer as the collection expects, replayed from fixture files as the collection sends them.

interface CollectionRequest {
  name: string;
  method: 'GET';
  /** Relative to the SCIM base, as the collection's `{{Api}}` variable leaves it. */
  path: string;
}

const fixture = (file: string) => scimFixture<CollectionRequest>('microsoft', file);

describe("Microsoft's SCIM reference collection", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  describe('"Endpoint tests": Get ServiceProviderConfig at /serviceConfiguration', () => {
    const sent = fixture('get-service-configuration.json');

    it('answers the ServiceProviderConfig, located at the path RFC 7644 §4 names', async () => {
      const res = await h.get(`/scim/v2${sent.path}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      // pm.test("Pach supported is true"): jsonData.patch.supported eql true
      expect(res.body.patch.supported).toBe(true);
      const canonical = await h.get('/scim/v2/ServiceProviderConfig');
      expect(res.body).toEqual(canonical.body);
      expect(res.body.meta.location).toMatch(/\/scim\/v2\/ServiceProviderConfig$/);
    });

    it('needs the same credentials, and refuses a filter as the RFC path does', async () => {
      const anonymous = await request(h.service.app).get(`/scim/v2${sent.path}`);
      expectScimError(anonymous, 401);
      const filtered = await h.get(`/scim/v2${sent.path}?filter=${encodeURIComponent('patch.supported eq true')}`);
      expectScimError(filtered, 403);
    });
  });
});
