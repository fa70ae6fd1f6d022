import type { Server } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import pino from 'pino';
import request from 'supertest';
import { Service } from '../../src/app/service';
import { type Harness, oktaUser, startHarness, TOKEN } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';

// Two service replicas on a redis-server of the test's own, no SCIM_EVENTS_SIGNING_KEY. Redis is flushed and one
// replica restarts: without a restart of the other, both sign with one key again, and every SET handed out by
// either verifies against the JWKS fetched from either.

const IGA_TOKEN = 'iga-keyring-token-0123456789abcdef0123456789ab';
const AUDIENCE = 'https://iga.example/keyring';

(hasRedisServer ? describe : describe.skip)('one signing key across replicas after Redis loses it', () => {
  let redis: PrivateRedis;
  let h: Harness;
  let issuer: string;
  const servers: Server[] = [];
  const services: Service[] = [];

  const replica = async () => {
    const port = await freePort();
    const service = new Service({ config: h.config, logger: pino({ level: 'silent' }) });
    await service.bootstrap();
    servers.push(await service.listen(port, '127.0.0.1'));
    services.push(service);
    return { service, base: `http://127.0.0.1:${port}` };
  };
  const create = (app: Service['app']) =>
    request(app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify(oktaUser(`ring.${unique()}@example.com`)))
      .expect(201);
  const jwksOf = async (base: string) =>
    (await (await fetch(`${base}/scim/v2/Events/jwks.json`)).json()) as JSONWebKeySet;
  const poll = async (base: string): Promise<string[]> => {
    const res = await fetch(`${base}/scim/v2/Events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ maxEvents: 100, returnImmediately: true }),
    });
    const { sets } = (await res.json()) as { sets: Record<string, string> };
    await fetch(`${base}/scim/v2/Events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ack: Object.keys(sets), maxEvents: 0 }),
    });
    return Object.values(sets);
  };

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: {
        REDIS_URL: redis.url,
        PUBLIC_BASE_URL: issuer,
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@${AUDIENCE}`,
      },
    });
    servers.push(await h.service.listen(port, '127.0.0.1'));
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    for (const s of services) await s.close();
    await h.close();
    await redis.stop();
  });

  it('FLUSHALL, one replica restarts: the two converge without a restart and every SET verifies at either', async () => {
    const first = await replica();
    const kidAt = async (base: string) => (await jwksOf(base)).keys[0]!.kid;
    expect(await kidAt(first.base)).toBe(await kidAt(issuer));

    await redis.command((r) => r.flushall());
    servers[servers.length - 1]!.close();
    await first.service.close();
    const b = await replica();
    // A (the harness's service) was not restarted: it takes the key the store names now.
    await eventually(async () => (await kidAt(issuer)) === (await kidAt(b.base)));

    for (let i = 0; i < 4; i++) await create(i % 2 ? h.service.app : b.service.app);
    await h.service.events!.publisher.idle();
    await b.service.events!.publisher.idle();
    const sets = [...(await poll(issuer)), ...(await poll(b.base))];
    expect(sets.length).toBeGreaterThanOrEqual(4);
    expect(new Set(sets.map((jwt) => decodeProtectedHeader(jwt).kid))).toEqual(new Set([await kidAt(b.base)]));
    for (const base of [issuer, b.base]) {
      const keys = createLocalJWKSet(await jwksOf(base));
      for (const jwt of sets) await expect(jwtVerify(jwt, keys, { audience: AUDIENCE })).resolves.toBeDefined();
    }
  });
});
