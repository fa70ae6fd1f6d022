import type { Server } from 'node:http';
import pino from 'pino';
import request from 'supertest';
import { Service } from '../../src/app/service';
import { SCIM_EVENT } from '../../src/events/securityEvent';
import { type Harness, oktaUser, startHarness, TOKEN } from '../support/harness';
import { describeRedis, redisUrl } from '../support/redis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';
import { PollingReceiver, type ReceivedSet } from './receiver';

// Two replicas sharing Redis (one Kit sandbox): the outbox and the signing key are shared, each SET reaches the
// receiver once whichever replica it polls, and a replica restarted loses none of the SETs queued before.

const IGA_TOKEN = 'iga-replicas-token-0123456789abcdef0123456789';
const AUDIENCE = 'https://iga.example/replicas';

describeRedis('security events across replicas (REDIS_URL)', () => {
  let h: Harness;
  const servers: Server[] = [];
  const services: Service[] = [];
  let issuer: string;

  const replica = async (port: number): Promise<{ service: Service; base: string }> => {
    const service = new Service({ config: h.config, logger: pino({ level: 'silent' }) });
    await service.bootstrap();
    servers.push(await service.listen(port, '127.0.0.1'));
    services.push(service);
    return { service, base: `http://127.0.0.1:${port}` };
  };

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: {
        REDIS_URL: redisUrl!,
        PUBLIC_BASE_URL: issuer,
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@${AUDIENCE}`,
        SCIM_EVENTS_LEASE_SECONDS: '60',
      },
    });
    servers.push(await h.service.listen(port, '127.0.0.1'));
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    for (const s of services) await s.close();
    await h.close();
  });

  const create = (app: Service['app'], email: string) =>
    request(app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${TOKEN}`)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify(oktaUser(email)))
      .expect(201);

  it('two replicas share one key and one outbox: every SET reaches the receiver once, polling either', async () => {
    const b = await replica(await freePort());
    const jwksA = await (await fetch(`${issuer}/scim/v2/Events/jwks.json`)).json();
    const jwksB = await (await fetch(`${b.base}/scim/v2/Events/jwks.json`)).json();
    expect(jwksB).toEqual(jwksA);

    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push((await create(i % 2 ? h.service.app : b.service.app, `rep.${unique()}@example.com`)).body.id);
    await h.service.events!.publisher.idle();
    await b.service.events!.publisher.idle();

    // The receiver verifies against replica A's JWKS whichever replica handed the SET out.
    const viaA = new PollingReceiver(issuer, IGA_TOKEN, AUDIENCE);
    const got: ReceivedSet[] = [];
    // Small batches from both replicas in turn, acknowledging as they go.
    for (let round = 0; round < 20; round++) {
      // pollAt does not dedupe: a SET handed out twice would show as a repeated jti below.
      got.push(...(await pollAt(issuer, viaA)));
      got.push(...(await pollAt(b.base, viaA)));
      if (got.filter((s) => ids.includes(s.sub_id.uri.slice(7))).length >= ids.length) break;
    }
    const mine = got.filter((s) => ids.includes(s.sub_id.uri.slice(7)));
    expect(mine.map((s) => s.sub_id.uri).sort()).toEqual(ids.map((id) => `/Users/${id}`).sort());
    expect(mine.every((s) => Object.keys(s.events)[0] === SCIM_EVENT.createNotice)).toBe(true);
    expect(new Set(got.map((s) => s.jti)).size).toBe(got.length);
  });

  it('a replica restarted loses none of the SETs queued before', async () => {
    const port = await freePort();
    const first = await replica(port);
    const email = `restart.${unique()}@example.com`;
    const id = (await create(first.service.app, email)).body.id as string;
    await first.service.events!.publisher.idle();
    servers[servers.length - 1]!.close();
    await first.service.close();

    const again = await replica(await freePort());
    const receiver = new PollingReceiver(issuer, IGA_TOKEN, AUDIENCE);
    const got: ReceivedSet[] = [];
    for (let i = 0; i < 50 && !got.some((s) => s.sub_id.uri === `/Users/${id}`); i++)
      got.push(...(await pollAt(again.base, receiver)));
    expect(got.filter((s) => s.sub_id.uri === `/Users/${id}`).map((s) => Object.keys(s.events))).toEqual([
      [SCIM_EVENT.createNotice],
    ]);
  });
});

/** One poll at another replica's endpoint, verified against the issuer's JWKS, acknowledged at once. */
async function pollAt(base: string, receiver: PollingReceiver): Promise<ReceivedSet[]> {
  const res = await fetch(`${base}/scim/v2/Events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ maxEvents: 2, returnImmediately: true }),
  });
  const { sets } = (await res.json()) as { sets: Record<string, string> };
  const out: ReceivedSet[] = [];
  for (const jwt of Object.values(sets)) out.push(await receiver.verify(jwt));
  await fetch(`${base}/scim/v2/Events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ack: Object.keys(sets), maxEvents: 0 }),
  });
  return out;
}
