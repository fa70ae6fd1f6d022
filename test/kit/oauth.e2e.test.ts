import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KitCredentials } from '../../src/config/environment';
import { KitAuthError, KitUnavailableError, KitUnreadableAnswerError } from '../../src/kit/errors';
import { RedisTokenStore } from '../../src/kit/redisTokenStore';
import { FileTokenStore } from '../../src/kit/tokenStore';
import { RedisLink } from '../../src/platform/redisLink';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { describeRedis, redisUrl } from '../support/redis';
import { expectNoSecrets, harness, uniqueId } from './support';

// Kit's OAuth: access tokens expire, refresh tokens rotate (using one kills it). The adapter must refresh once
// for any number of concurrent 401s, persist the new pair, and come back after a restart with it.

const oauth = {
  clientId: 'scim-app',
  clientSecret: 'client-secret-do-not-leak-1234',
  accessToken: 'access-initial-do-not-leak-5678',
  refreshToken: 'refresh-initial-do-not-leak-9012',
};

let sb: KitSandbox;
let dir: string;
let tokenFile: string;
let credentials: Extract<KitCredentials, { kind: 'oauth' }>;

beforeEach(async () => {
  sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 }, oauth });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kit-oauth-'));
  tokenFile = path.join(dir, 'kit-tokens.json');
  credentials = { kind: 'oauth', ...oauth, tokenStorePath: tokenFile };
});
afterEach(async () => {
  await sb.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const refreshes = () => sb.calls().byEndpoint['POST /oauth/token'] ?? 0;

describe('OAuth refresh', () => {
  it('refreshes once for concurrent 401s, persists the rotated pair, and survives a restart', async () => {
    const first = harness(sb, { credentials });
    await first.client.account();
    expect(refreshes()).toBe(0);

    sb.expireAccessTokens();
    const results = await Promise.all(Array.from({ length: 6 }, () => first.client.account()));
    expect(results).toHaveLength(6);
    expect(refreshes()).toBe(1); // single flight

    const rotated = sb.oauthTokens()!;
    expect(rotated.refreshToken).not.toBe(oauth.refreshToken);
    const saved = JSON.parse(await fs.readFile(tokenFile, 'utf8'));
    expect(saved).toMatchObject({ accessToken: rotated.accessToken, refreshToken: rotated.refreshToken });
    expect((await fs.stat(tokenFile)).mode & 0o777).toBe(0o600);
    await first.limiter.stop();

    // "Restart": a new client built from the same (now stale) configuration and the token store.
    const second = harness(sb, { credentials });
    await second.client.account();
    expect(refreshes()).toBe(1);
    expect(second.records.map((r) => r.status)).toEqual([200]);
    await second.limiter.stop();

    // Without the store, the configured tokens are dead: the original refresh token was consumed.
    const amnesiac = harness(sb, { credentials: { ...credentials, tokenStorePath: undefined } });
    const err = await amnesiac.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitAuthError);
    expect(amnesiac.records.map((r) => [r.endpoint, r.status])).toEqual([
      ['GET /v4/account', 401],
      ['POST /oauth/token', 401],
    ]);
    expectNoSecrets(err, [
      oauth.clientSecret,
      oauth.accessToken,
      oauth.refreshToken,
      rotated.accessToken,
      rotated.refreshToken,
    ]);
    await amnesiac.limiter.stop();
  });

  it('uses tokens another process rotated into the shared store instead of refreshing again', async () => {
    const a = harness(sb, { credentials });
    const b = harness(sb, { credentials });
    await a.client.account();
    await b.client.account();
    sb.expireAccessTokens();
    await a.client.account(); // a refreshes and saves
    await b.client.account(); // b's token is dead and its refresh token consumed: it must read the store
    expect(refreshes()).toBe(1);
    expect(b.records.map((r) => r.status)).toEqual([200, 401, 200]);
    await a.limiter.stop();
    await b.limiter.stop();
  });

  it('ignores a store written for other configured tokens (the operator re-authorised the app)', async () => {
    await new FileTokenStore(tokenFile).save({ accessToken: 'stale', refreshToken: 'stale', seed: 'another-pair' });
    const c = harness(sb, { credentials });
    await c.client.account();
    expect(c.records.map((r) => r.status)).toEqual([200]);
    await c.limiter.stop();
  });

  it('a refused refresh is KitAuthError and is attempted once per call', async () => {
    const c = harness(sb, { credentials: { ...credentials, clientSecret: 'wrong-secret-xyz' } });
    sb.expireAccessTokens();
    const err = await c.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitAuthError);
    expect(err.errors[0]).toMatch(/^invalid_client/);
    expect(refreshes()).toBe(1);
    expectNoSecrets(err, ['wrong-secret-xyz', oauth.refreshToken, oauth.accessToken]);
    await c.limiter.stop();
  });

  it('a 5xx on the token endpoint is not repeated (the refresh token may be spent): KitUnavailableError', async () => {
    const c = harness(sb, { credentials });
    sb.expireAccessTokens();
    sb.setFaults({ failNext: 3, failStatus: 500, endpoints: ['POST /oauth/token'] });
    const err = await c.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(err.endpoint).toBe('POST /oauth/token');
    expect(refreshes()).toBe(1);
    await c.limiter.stop();
  });

  it('a token answer without an access token is KitUnreadableAnswerError, sent once, no token in it', async () => {
    const c = harness(sb, { credentials });
    sb.expireAccessTokens();
    sb.setFaults({ malformedNext: 1, endpoints: ['POST /oauth/token'] });
    const err = await c.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitUnreadableAnswerError);
    expect(err.message).toMatch(/POST \/oauth\/token .*access_token: invalid_type/);
    expect(refreshes()).toBe(1);
    expectNoSecrets(err, [oauth.clientSecret, oauth.refreshToken, oauth.accessToken]);
    await c.limiter.stop();
  });

  it('sends the bearer token, never the client secret, on API calls', async () => {
    const c = harness(sb, { credentials });
    await c.client.account();
    expect(sb.calls().log.every((r) => !r.credential.includes(oauth.accessToken))).toBe(true);
    expect(sb.calls().log[0].credential).toMatch(/^oauth/);
    await c.limiter.stop();
  });
});

describeRedis('OAuth tokens shared through Redis (replicas on several hosts)', () => {
  const links: RedisLink[] = [];
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
  });
  async function replica(id: string) {
    const link = new RedisLink({ url: redisUrl!, commandTimeoutMs: 500, probeIntervalMs: 100 });
    links.push(link);
    await link.waitHealthy(5000);
    // No file: each "host" has only Redis in common with the others.
    return harness(sb, {
      credentials: { ...credentials, tokenStorePath: undefined },
      tokenStore: new RedisTokenStore(link, { id }),
    });
  }

  it('two replicas refresh once for an expired token, under one lock, and both use the new pair', async () => {
    const id = uniqueId('oauth');
    const [a, b] = [await replica(id), await replica(id)];
    await Promise.all([a.client.account(), b.client.account()]);
    sb.expireAccessTokens();
    const results = await Promise.all([
      ...Array.from({ length: 3 }, () => a.client.account()),
      ...Array.from({ length: 3 }, () => b.client.account()),
    ]);
    expect(results).toHaveLength(6);
    expect(refreshes()).toBe(1);
    const rotated = sb.oauthTokens()!;
    const stored = await new RedisTokenStore(links[0], { id }).load();
    expect(stored).toMatchObject({ accessToken: rotated.accessToken, refreshToken: rotated.refreshToken });
    await a.limiter.stop();
    await b.limiter.stop();
  });
});
