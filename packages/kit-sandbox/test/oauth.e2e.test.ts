import axios from 'axios';
import { startKitSandbox } from '../src';
import { kitHttp } from './sandboxHttp';

const oauth = { clientId: 'client-1', clientSecret: 'shh', accessToken: 'access-0', refreshToken: 'refresh-0' };

function tokenCall(url: string, body: Record<string, string>, form = false) {
  return axios.post(`${url}/oauth/token`, form ? new URLSearchParams(body).toString() : body, {
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    validateStatus: () => true,
    proxy: false,
  });
}

describe('OAuth', () => {
  it('rotates refresh tokens: the new pair works, the used refresh token and the old access token do not', async () => {
    const sandbox = await startKitSandbox({ oauth, rateLimit: { max: 3, windowMs: 60_000 } });
    try {
      expect((await kitHttp(sandbox, { Authorization: 'Bearer access-0' }).get('/v4/account')).status).toBe(200);
      const grant = {
        grant_type: 'refresh_token',
        refresh_token: 'refresh-0',
        client_id: 'client-1',
        client_secret: 'shh',
      };
      const refreshed = await tokenCall(sandbox.url, grant, true);
      expect(refreshed.status).toBe(200);
      expect(refreshed.data).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'bearer',
        created_at: expect.any(Number),
        expires_in: 7200,
        scope: expect.any(String),
      });
      const { access_token: access1, refresh_token: refresh1 } = refreshed.data;
      expect(access1).not.toBe('access-0');
      expect(refresh1).not.toBe('refresh-0');
      expect(sandbox.oauthTokens()).toEqual({ accessToken: access1, refreshToken: refresh1 });

      const reused = await tokenCall(sandbox.url, grant);
      expect(reused.status).toBe(401);
      expect(reused.data.error).toBe('invalid_grant');
      expect(typeof reused.data.error_description).toBe('string');

      const old = await kitHttp(sandbox, { Authorization: 'Bearer access-0' }).get('/v4/account');
      expect(old.status).toBe(401);
      expect(old.data).toEqual({ errors: ['The access token is invalid'] });
      expect((await kitHttp(sandbox, { Authorization: `Bearer ${access1}` }).get('/v4/account')).status).toBe(200);

      // JSON bodies work too, and /oauth/token is outside the rate window (3 calls max here).
      for (let i = 0; i < 4; i++) {
        const { refreshToken } = sandbox.oauthTokens()!;
        const next = await tokenCall(sandbox.url, { ...grant, refresh_token: refreshToken });
        expect(next.status).toBe(200);
      }
      expect(sandbox.calls().byEndpoint['POST /oauth/token']).toBe(6);
    } finally {
      await sandbox.close();
    }
  });

  it('refuses a wrong client, an unknown grant type and a missing refresh token', async () => {
    const sandbox = await startKitSandbox({ oauth });
    try {
      const base = { grant_type: 'refresh_token', refresh_token: 'refresh-0', client_id: 'client-1' };
      expect((await tokenCall(sandbox.url, { ...base, client_id: 'other' })).data.error).toBe('invalid_client');
      expect((await tokenCall(sandbox.url, { ...base, client_secret: 'wrong' })).status).toBe(401);
      expect((await tokenCall(sandbox.url, { ...base, grant_type: 'password' })).data.error).toBe(
        'unsupported_grant_type',
      );
      const missing = await tokenCall(sandbox.url, { grant_type: 'refresh_token', client_id: 'client-1' });
      expect(missing.status).toBe(401);
      expect(missing.data.error).toBe('invalid_grant');
      // None of these consumed the real refresh token.
      expect((await tokenCall(sandbox.url, base)).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('expireAccessTokens makes every access token 401 until the client refreshes', async () => {
    const sandbox = await startKitSandbox({ oauth });
    try {
      const before = kitHttp(sandbox, { Authorization: 'Bearer access-0' });
      expect((await before.get('/v4/tags')).status).toBe(200);
      sandbox.expireAccessTokens();
      expect((await before.get('/v4/tags')).status).toBe(401);
      const refreshed = await tokenCall(sandbox.url, {
        grant_type: 'refresh_token',
        refresh_token: 'refresh-0',
        client_id: 'client-1',
      });
      expect(refreshed.status).toBe(200);
      expect(
        (await kitHttp(sandbox, { Authorization: `Bearer ${refreshed.data.access_token}` }).get('/v4/tags')).status,
      ).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('expires access tokens after accessTokenTtlMs (by the injectable clock)', async () => {
    let t = 1_000_000;
    const sandbox = await startKitSandbox({ oauth: { ...oauth, accessTokenTtlMs: 60_000 }, now: () => t });
    try {
      const http = kitHttp(sandbox, { Authorization: 'Bearer access-0' });
      t += 59_999;
      expect((await http.get('/v4/account')).status).toBe(200);
      t += 1;
      expect((await http.get('/v4/account')).status).toBe(401);
    } finally {
      await sandbox.close();
    }
  });

  it('all access tokens of the account share one rate window', async () => {
    const sandbox = await startKitSandbox({ oauth, rateLimit: { max: 2, windowMs: 60_000 } });
    try {
      await kitHttp(sandbox, { Authorization: 'Bearer access-0' }).get('/v4/account');
      const refreshed = await tokenCall(sandbox.url, {
        grant_type: 'refresh_token',
        refresh_token: 'refresh-0',
        client_id: 'client-1',
      });
      const fresh = kitHttp(sandbox, { Authorization: `Bearer ${refreshed.data.access_token}` });
      expect((await fresh.get('/v4/account')).status).toBe(200);
      expect((await fresh.get('/v4/account')).status).toBe(429);
      expect((await kitHttp(sandbox).get('/v4/account')).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });
});
