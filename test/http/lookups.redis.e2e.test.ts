import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { expectListResponse } from '../support/scim';
import { unique } from '../support/unique';

// The lookup mirror across replicas: two Service instances sharing one Redis share one lookup mirror (MIRROR=lookups,
// the default without webhooks): one walk answers every replica's externalId lookups, and a user created,
// renamed or deleted through either replica is found (or not) by the next lookup on the other at once.

const TOKEN = 'lookup-replica-token-0123456789abcdef0123';
const N = 1500;

(hasRedisServer ? describe : describe.skip)('two replicas, one Redis: one lookup mirror', () => {
  let redis: PrivateRedis;
  let sandbox: KitSandbox;
  let a: Service;
  let b: Service;
  const run = unique();

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    sandbox.store.seedSubscribers(N, { emailPrefix: 'looked-up-' });
    const config = loadConfig({
      KIT_API_URL: sandbox.url,
      KIT_API_KEY: sandbox.apiKey,
      SCIM_BEARER_TOKENS: `idp=${TOKEN}`,
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      REDIS_PROBE_INTERVAL_MS: '100',
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'silent',
      KIT_RATE_WINDOW_MS: '200',
    });
    const make = () => new Service({ config, logger: pino({ level: 'silent' }) });
    a = make();
    b = make();
    await Promise.all([a.bootstrap(), b.bootstrap()]);
  }, 30_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  const send = (s: Service, method: 'post' | 'patch', p: string, body: unknown) =>
    (method === 'post' ? request(s.app).post(p) : request(s.app).patch(p))
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify(body));
  const byExternalId = (s: Service, value: string) =>
    request(s.app)
      .get(`/scim/v2/Users?filter=${encodeURIComponent(`externalId eq "${value}"`)}&excludedAttributes=groups`)
      .set('Authorization', `Bearer ${TOKEN}`);
  const kitCalls = async <T>(fn: () => Promise<T>) => {
    sandbox.resetCalls();
    const result = await fn();
    return { result, ...sandbox.calls() };
  };
  const user = (name: string) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    externalId: `oid-${name}-${run}`,
    userName: `${name}.${run}@contoso.example`,
    emails: [{ value: `${name}.${run}@contoso.example`, type: 'work', primary: true }],
    name: { givenName: 'Ada' },
  });

  it('one walk answers both replicas: 100 lookups with distinct values, half on each, the first two at once', async () => {
    const { result, byEndpoint } = await kitCalls(async () => {
      // Both replicas' first lookups arrive together: one walks, the other waits for that walk (not a walk
      // of Kit of its own).
      const answers = await Promise.all([
        byExternalId(a, `oid-nobody-0-${run}`),
        byExternalId(b, `oid-nobody-1-${run}`),
      ]);
      for (let i = 2; i < 100; i++) answers.push(await byExternalId(i % 2 ? b : a, `oid-nobody-${i}-${run}`));
      return answers;
    });
    for (const r of result) expectListResponse(r, 0);
    expect(byEndpoint).toEqual({ 'GET /v4/subscribers': Math.ceil(N / 1000) });
  });

  it('created on one replica, found on the other at once; renamed and deleted likewise', async () => {
    const created = await send(a, 'post', '/scim/v2/Users', user('moved'));
    expect(created.status).toBe(201);
    const found = await kitCalls(() => byExternalId(b, `oid-moved-${run}`));
    expect(expectListResponse(found.result, 1)[0].id).toBe(created.body.id);
    expect(found.total).toBe(0);

    const renamed = await send(b, 'patch', `/scim/v2/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'externalId', value: `oid-renamed-${run}` }],
    });
    expect(renamed.status).toBe(200);
    const after = await kitCalls(async () => [
      await byExternalId(a, `oid-moved-${run}`),
      await byExternalId(a, `oid-renamed-${run}`),
    ]);
    expectListResponse(after.result[0], 0);
    expect(expectListResponse(after.result[1], 1)[0].id).toBe(created.body.id);
    expect(after.total).toBe(0);

    const deleted = await request(a.app)
      .delete(`/scim/v2/Users/${created.body.id}`)
      .set('Authorization', `Bearer ${TOKEN}`);
    expect(deleted.status).toBe(204);
    const gone = await kitCalls(() => byExternalId(b, `oid-renamed-${run}`));
    expectListResponse(gone.result, 0);
    expect(gone.total).toBe(0);
  });
});
