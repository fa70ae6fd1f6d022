import { BACKENDS, type Harness, oktaUser, startHarness } from '../support/harness';
import { expectScimError } from '../support/scim';

// A Kit answer that is not the shape Kit documents (a proxy's page, a changed API) reaches the IdP as an upstream
// failure: a SCIM 502 naming what Kit got wrong, never a 500 or a crash, and the server keeps serving.

describe.each(BACKENDS)('an unreadable Kit answer over Kit %s', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend });
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => h.sandbox.resetFaults());

  const subscriberRead = backend === 'v4' ? 'GET /v4/subscribers/:id' : 'GET /v3/subscribers/:id';

  it('answers a SCIM 502 after one Kit call, without the subscriber’s data, and the next read succeeds', async () => {
    const email = `unreadable.${backend}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    expect(created.status).toBe(201);
    h.sandbox.setFaults({ malformedNext: 1, endpoints: [subscriberRead] });

    const { result: res, byEndpoint } = await h.kitCalls(() => h.get(`/scim/v2/Users/${created.body.id}`));
    expectScimError(res, 502);
    expect(res.body.detail).toMatch(/not the shape Kit documents/);
    expect(res.text).not.toContain(email);
    expect(byEndpoint[subscriberRead]).toBe(1);

    const again = await h.get(`/scim/v2/Users/${created.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.userName).toBe(email);
  });
});
