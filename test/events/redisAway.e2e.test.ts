import { decodeJwt } from 'jose';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';

// SCIM writes made while Redis does not answer (SIGSTOP): their SETs wait on the replica and reach the receiver
// once Redis answers again, every one, in the order the writes were made.

const IGA_TOKEN = 'iga-away-token-0123456789abcdef0123456789abcd';
const AUDIENCE = 'https://iga.example/away';

type Claims = { jti: string; sub_id: { uri: string }; events: Record<string, { attributes?: string[] }> };

(hasRedisServer ? describe : describe.skip)('security events for writes made while Redis is away', () => {
  let redis: PrivateRedis;
  let h: Harness;
  let base: string;

  const poll = async (): Promise<Claims[]> => {
    const res = await fetch(`${base}/scim/v2/Events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ maxEvents: 100, returnImmediately: true }),
    });
    if (res.status !== 200) return [];
    const { sets } = (await res.json()) as { sets: Record<string, string> };
    await fetch(`${base}/scim/v2/Events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${IGA_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ack: Object.keys(sets), maxEvents: 0 }),
    });
    return Object.values(sets).map((jwt) => decodeJwt(jwt) as unknown as Claims);
  };

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    h = await startHarness({
      env: {
        REDIS_URL: redis.url,
        PUBLIC_BASE_URL: base,
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@${AUDIENCE}`,
      },
    });
    await h.service.listen(port, '127.0.0.1');
  });
  afterAll(async () => {
    await h.close();
    await redis.stop();
  });

  it('Redis paused: every SET of the writes made meanwhile is delivered after it returns, in order', async () => {
    const id = (await h.post('/scim/v2/Users', oktaUser(`away.${unique()}@example.com`)).expect(201)).body.id as string;
    await h.service.events!.publisher.idle();
    await poll();

    redis.pause();
    const titles = ['one', 'two', 'three'];
    try {
      for (const title of titles)
        await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'title', value: title })).expect(200);
      await h.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
      await h.service.events!.publisher.idle();
    } finally {
      redis.resume();
    }

    const got: Claims[] = [];
    await eventually(async () => {
      got.push(...(await poll()).filter((c) => c.sub_id.uri === `/Users/${id}`));
      return got.length >= 4;
    });
    expect(got.map((c) => Object.keys(c.events)[0]!.split(':').slice(-2).join(':'))).toEqual([
      'patch:notice',
      'patch:notice',
      'patch:notice',
      'prov:deactivate',
    ]);
    expect(new Set(got.map((c) => c.jti)).size).toBe(4);
  });
});
