import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import type { BearerToken, JwtConfig } from '../../src/config/environment';
import {
  AuthenticationError,
  Authenticator,
  type AuthenticatorOptions,
  type AuthFailureReason,
  createAuthMiddleware,
} from '../../src/http/auth';
import { FailureThrottle } from '../../src/platform/failureThrottle';
import type { Principal } from '../../src/platform/requestScope';
import { currentScope } from '../../src/platform/requestScope';
import { requestScopeMiddleware } from '../../src/http/requestScopeMiddleware';
import { type JwksServer, type SigningKey, signingKey, signToken, startJwksServer } from '../fixtures/http/jwksServer';
import { ManualClock, stampClock } from '../support/clock';

const ISSUER = 'https://idp.example.test/oauth2/default';
const AUDIENCE = 'api://convertkit-scim';
const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);
const nowSeconds = Math.floor(NOW / 1000);

const tokens: BearerToken[] = [
  { name: 'okta', token: 'okta-secret-token-0123456789', readOnly: false },
  { name: 'sailpoint', token: 'sp-readonly-secret-abcdef', readOnly: true },
];

let rsaKey: SigningKey;
let rotatedKey: SigningKey;
let ecKey: SigningKey;
let jwks: JwksServer;

beforeAll(async () => {
  rsaKey = await signingKey('key-2030-01', 'RS256');
  rotatedKey = await signingKey('key-2030-02', 'RS256');
  ecKey = await signingKey('key-ec', 'ES256');
  jwks = await startJwksServer([rsaKey, ecKey]);
});

afterAll(async () => {
  await jwks.close();
});

beforeEach(() => {
  jwks.keys = [rsaKey, ecKey];
  jwks.failWith = undefined;
});

function jwtConfig(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return {
    jwksUrl: jwks.url,
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256', 'ES256'],
    clockSkewSeconds: 60,
    ...overrides,
  };
}

function authenticator(overrides: Partial<AuthenticatorOptions> = {}): Authenticator {
  return new Authenticator({
    bearerTokens: tokens,
    jwt: jwtConfig(),
    clock: stampClock(() => NOW),
    jwks: { cooldownMs: 0 },
    ...overrides,
  });
}

const validClaims = { iss: ISSUER, aud: AUDIENCE, sub: '0oa1okta-client', iat: nowSeconds, exp: nowSeconds + 3600 };

async function failure(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthenticationError);
    return err as AuthenticationError;
  }
  throw new Error('expected authentication to fail');
}

describe('Authenticator: static bearer tokens', () => {
  it('maps a configured token to its named principal', async () => {
    await expect(authenticator().authenticate('Bearer okta-secret-token-0123456789')).resolves.toEqual({
      name: 'okta',
      kind: 'token',
      readOnly: false,
    });
  });

  it('keeps the read-only flag and accepts the scheme in any case', async () => {
    const p = await authenticator().authenticate('bearer sp-readonly-secret-abcdef');
    expect(p).toEqual({ name: 'sailpoint', kind: 'token', readOnly: true });
  });

  it('refuses an unknown token without echoing it', async () => {
    const err = await failure(authenticator().authenticate('Bearer okta-secret-token-012345678X'));
    expect(err.reason).toBe('unknown_token');
    expect(err.status).toBe(401);
    expect(err.message).not.toContain('okta-secret-token');
  });

  it('refuses a prefix or extension of a configured token', async () => {
    const a = authenticator();
    expect((await failure(a.authenticate('Bearer okta-secret-token'))).reason).toBe('unknown_token');
    expect((await failure(a.authenticate('Bearer okta-secret-token-0123456789x'))).reason).toBe('unknown_token');
  });

  it('distinguishes a missing header from another scheme', async () => {
    const a = authenticator();
    expect((await failure(a.authenticate(undefined))).reason).toBe('missing');
    expect((await failure(a.authenticate('  '))).reason).toBe('missing');
    const basic = await failure(a.authenticate('Basic b2t0YTpzZWNyZXQ='));
    expect(basic.reason).toBe('malformed');
    expect(basic.message).not.toContain('b2t0YTpzZWNyZXQ=');
  });

  it('does not treat a JWT-shaped string as a JWT when JWT auth is not configured', async () => {
    const token = await signToken(rsaKey, validClaims);
    const err = await failure(authenticator({ jwt: undefined }).authenticate(`Bearer ${token}`));
    expect(err.reason).toBe('unknown_token');
  });
});

describe('Authenticator: JWTs against a JWKS', () => {
  it('accepts a valid RS256 token and names the principal after its subject', async () => {
    const token = await signToken(rsaKey, { ...validClaims, scope: 'scim:write' });
    await expect(authenticator().authenticate(`Bearer ${token}`)).resolves.toEqual({
      name: 'jwt:0oa1okta-client',
      kind: 'jwt',
      subject: '0oa1okta-client',
      readOnly: false,
    });
  });

  it('accepts a valid ES256 token', async () => {
    const token = await signToken(ecKey, validClaims);
    expect((await authenticator().authenticate(`Bearer ${token}`)).subject).toBe('0oa1okta-client');
  });

  it.each([
    ['scope without scim:write', { scope: 'scim:read openid' }, true],
    ['scope with scim:write', { scope: 'scim:read scim:write' }, false],
    ['scp array with scim:write', { scp: ['scim:write'] }, false],
    ['scp string without scim:write', { scp: 'users.read' }, true],
    // Least privilege: a token that does not state scim:write cannot write, however its scope is missing.
    ['no scope claim', {}, true],
    ['scope: null', { scope: null }, true],
    ['scp: null', { scp: null }, true],
    ['scope of the wrong type', { scope: 42 }, true],
  ])('read-only follows the scope claim: %s', async (_label, extra, readOnly) => {
    const token = await signToken(rsaKey, { ...validClaims, ...extra });
    expect((await authenticator().authenticate(`Bearer ${token}`)).readOnly).toBe(readOnly);
  });

  it('refuses the wrong issuer', async () => {
    const token = await signToken(rsaKey, { ...validClaims, iss: 'https://evil.example.test' });
    const err = await failure(authenticator().authenticate(`Bearer ${token}`));
    expect(err.reason).toBe('jwt_claims');
    expect(err.message).toMatch(/issuer/);
    expect(err.message).not.toContain('evil');
  });

  it('refuses the wrong audience', async () => {
    const token = await signToken(rsaKey, { ...validClaims, aud: 'api://something-else' });
    const err = await failure(authenticator().authenticate(`Bearer ${token}`));
    expect(err.reason).toBe('jwt_claims');
    expect(err.message).toMatch(/audience/);
  });

  it('refuses a token without an expiry, which would be valid forever once leaked', async () => {
    const { exp: _exp, ...noExp } = validClaims;
    const token = await signToken(rsaKey, { ...noExp, scope: 'scim:write' });
    const err = await failure(authenticator().authenticate(`Bearer ${token}`));
    expect(err.reason).toBe('jwt_claims');
    expect(err.message).toBe('The token has no expiry (exp) claim.');
  });

  it('refuses a token issued in the future beyond the clock skew, and accepts one within it', async () => {
    const a = authenticator();
    const withinSkew = await signToken(rsaKey, { ...validClaims, iat: nowSeconds + 50 });
    expect((await a.authenticate(`Bearer ${withinSkew}`)).kind).toBe('jwt');
    const beyondSkew = await signToken(rsaKey, { ...validClaims, iat: nowSeconds + 120, exp: nowSeconds + 7200 });
    const err = await failure(a.authenticate(`Bearer ${beyondSkew}`));
    expect(err.reason).toBe('jwt_claims');
    expect(err.message).toBe('The token was issued in the future.');
    // The skew is configuration: with 300 s tolerated, the same token passes.
    const lenient = authenticator({ jwt: jwtConfig({ clockSkewSeconds: 300 }) });
    expect((await lenient.authenticate(`Bearer ${beyondSkew}`)).kind).toBe('jwt');
  });

  it('refuses a token without a subject', async () => {
    const { sub: _sub, ...noSub } = validClaims;
    const token = await signToken(rsaKey, noSub);
    expect((await failure(authenticator().authenticate(`Bearer ${token}`))).reason).toBe('jwt_claims');
  });

  it('refuses an algorithm outside the allow-list', async () => {
    const es384 = await signingKey('key-es384', 'ES384');
    jwks.keys = [rsaKey, es384];
    const token = await signToken(es384, validClaims);
    const err = await failure(authenticator().authenticate(`Bearer ${token}`));
    expect(err.reason).toBe('jwt_algorithm');
    // The allow-list check comes before any key lookup.
    await expect(
      new Authenticator({
        bearerTokens: [],
        jwt: jwtConfig({ algorithms: ['RS256', 'ES256', 'ES384'] }),
        clock: stampClock(() => NOW),
      })
        .authenticate(`Bearer ${token}`)
        .then((p) => p.kind),
    ).resolves.toBe('jwt');
  });

  it('refuses an HS256 token signed with a guessed secret', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: rsaKey.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('attacker')
      .setExpirationTime(nowSeconds + 600)
      .sign(new TextEncoder().encode('a-guessed-shared-secret-of-enough-length'));
    expect((await failure(authenticator().authenticate(`Bearer ${token}`))).reason).toBe('jwt_algorithm');
  });

  it('refuses to be configured with symmetric algorithms or none', () => {
    expect(() => authenticator({ jwt: jwtConfig({ algorithms: ['RS256', 'HS256'] }) })).toThrow(/HS256/);
    expect(() => authenticator({ jwt: jwtConfig({ algorithms: ['none'] }) })).toThrow(/none/);
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await signToken(rsaKey, validClaims);
    const [header, , signature] = token.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...validClaims, sub: 'admin' })).toString('base64url');
    const err = await failure(authenticator().authenticate(`Bearer ${header}.${forgedPayload}.${signature}`));
    expect(err.reason).toBe('jwt_invalid');
  });

  it('accepts a token expired within the clock skew and refuses one expired beyond it', async () => {
    const a = authenticator();
    const withinSkew = await signToken(rsaKey, { ...validClaims, iat: nowSeconds - 3600, exp: nowSeconds - 30 });
    expect((await a.authenticate(`Bearer ${withinSkew}`)).kind).toBe('jwt');
    const beyondSkew = await signToken(rsaKey, { ...validClaims, iat: nowSeconds - 3600, exp: nowSeconds - 90 });
    const err = await failure(a.authenticate(`Bearer ${beyondSkew}`));
    expect(err.reason).toBe('jwt_expired');
    expect(err.message).toBe('The token has expired.');
  });

  it('checks expiry against the injected clock', async () => {
    const token = await signToken(rsaKey, validClaims);
    const later = authenticator({ clock: stampClock(() => NOW + 2 * 3600_000) });
    expect((await failure(later.authenticate(`Bearer ${token}`))).reason).toBe('jwt_expired');
  });

  it('picks up a rotated key by refetching the JWKS on an unknown kid', async () => {
    const a = authenticator();
    const before = jwks.fetches;
    expect((await a.authenticate(`Bearer ${await signToken(rsaKey, validClaims)}`)).kind).toBe('jwt');
    expect(jwks.fetches).toBe(before + 1);

    jwks.keys = [rotatedKey];
    const rotated = await signToken(rotatedKey, { ...validClaims, sub: 'after-rotation' });
    expect((await a.authenticate(`Bearer ${rotated}`)).name).toBe('jwt:after-rotation');
    expect(jwks.fetches).toBe(before + 2);

    // The retired key is gone from the set: its tokens no longer verify.
    const retired = await signToken(rsaKey, validClaims);
    expect((await failure(a.authenticate(`Bearer ${retired}`))).reason).toBe('jwt_invalid');
  });

  it('does not refetch the JWKS for unknown kids during the cooldown', async () => {
    const a = authenticator({ jwks: { cooldownMs: 60_000 } });
    await a.authenticate(`Bearer ${await signToken(rsaKey, validClaims)}`);
    const after = jwks.fetches;
    const stranger = await signingKey('unknown-kid');
    for (let i = 0; i < 3; i++) {
      const err = await failure(a.authenticate(`Bearer ${await signToken(stranger, validClaims)}`));
      expect(err.reason).toBe('jwt_invalid');
    }
    expect(jwks.fetches).toBe(after);
  });

  it('reports an unreachable JWKS as a 503, not as a bad credential', async () => {
    jwks.failWith = 500;
    const err = await failure(authenticator().authenticate(`Bearer ${await signToken(rsaKey, validClaims)}`));
    expect(err.reason).toBe('jwks_unavailable');
    expect(err.status).toBe(503);
  });

  it('reports a JWKS nobody answers at as a 503', async () => {
    const closed = await startJwksServer([rsaKey]);
    await closed.close();
    const a = authenticator({ jwt: jwtConfig({ jwksUrl: closed.url }) });
    const err = await failure(a.authenticate(`Bearer ${await signToken(rsaKey, validClaims)}`));
    expect(err.reason).toBe('jwks_unavailable');
  });

  it('still accepts a static token that happens to look like a JWT', async () => {
    const jwtLike = 'aaaa.bbbb.cccc';
    const a = authenticator({ bearerTokens: [{ name: 'odd', token: jwtLike, readOnly: false }] });
    expect((await a.authenticate(`Bearer ${jwtLike}`)).name).toBe('odd');
  });
});

describe('createAuthMiddleware', () => {
  function app(a: Authenticator, opts: Parameters<typeof createAuthMiddleware>[1] = {}) {
    const server = express();
    server.use(requestScopeMiddleware());
    server.use(createAuthMiddleware(a, opts));
    const whoAmI = (_req: express.Request, res: express.Response) => {
      const principal = res.locals.principal as Principal;
      res.json({ name: principal.name, scopePrincipal: currentScope()?.principal?.name });
    };
    server.get('/Users', whoAmI);
    server.post('/Users', whoAmI);
    server.post('/Users/.search', whoAmI);
    server.delete('/Users/:id', whoAmI);
    return server;
  }

  it('answers 401 with a SCIM error, a Bearer challenge and no trace of the token', async () => {
    const res = await request(app(authenticator())).get('/Users').set('Authorization', 'Bearer not-a-real-token-XYZ');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="convertkit-scim", error="invalid_token"');
    expect(JSON.parse(res.text)).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '401',
      detail: 'The bearer token is not recognised.',
    });
    expect(res.text).not.toContain('not-a-real-token-XYZ');
    expect(JSON.stringify(res.headers)).not.toContain('not-a-real-token-XYZ');
  });

  it('challenges without an error code when no credential was sent', async () => {
    const res = await request(app(authenticator())).get('/Users');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="convertkit-scim"');
    expect(JSON.parse(res.text).detail).toMatch(/Authorization: Bearer/);
  });

  it('passes the principal on in res.locals and the request scope', async () => {
    const res = await request(app(authenticator())).get('/Users').set('Authorization', `Bearer ${tokens[0].token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'okta', scopePrincipal: 'okta' });
  });

  it('lets a read-only token read and search but not write', async () => {
    const server = app(authenticator());
    const auth = `Bearer ${tokens[1].token}`;
    expect((await request(server).get('/Users').set('Authorization', auth)).status).toBe(200);
    expect((await request(server).post('/Users/.search').set('Authorization', auth)).status).toBe(200);
    // Routing ignores letter case, and so does the difference between a search and a write.
    expect((await request(server).post('/users/.SEARCH').set('Authorization', auth)).status).toBe(200);

    for (const res of [
      await request(server).post('/Users').set('Authorization', auth),
      await request(server).delete('/Users/42').set('Authorization', auth),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      const body = JSON.parse(res.text);
      expect(body.status).toBe('403');
      expect(body.detail).toMatch(/read-only/);
      expect(res.text).not.toContain(tokens[1].token);
    }
  });

  it('refuses a JWT without scim:write on writes', async () => {
    const token = await signToken(rsaKey, { ...validClaims, scope: 'scim:read' });
    const res = await request(app(authenticator())).post('/Users').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope/);
  });

  it('reports each refusal reason to onFailure and each principal to onSuccess', async () => {
    const reasons: AuthFailureReason[] = [];
    const principals: string[] = [];
    const server = app(authenticator(), {
      onFailure: (r) => reasons.push(r),
      onSuccess: (p) => principals.push(p.name),
    });
    await request(server).get('/Users');
    await request(server).get('/Users').set('Authorization', 'Bearer nope');
    await request(server).post('/Users').set('Authorization', `Bearer ${tokens[1].token}`);
    await request(server).get('/Users').set('Authorization', `Bearer ${tokens[0].token}`);
    expect(reasons).toEqual(['missing', 'unknown_token', 'read_only']);
    expect(principals).toEqual(['okta']);
  });

  it('answers 503 with Retry-After when the JWKS cannot be fetched', async () => {
    jwks.failWith = 503;
    const token = await signToken(rsaKey, validClaims);
    const res = await request(app(authenticator())).get('/Users').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(JSON.parse(res.text).status).toBe('503');
  });

  /** A clock that moves only when the test says so. */
  function testClock(): ManualClock {
    return new ManualClock(NOW);
  }

  function countingApp(a: Authenticator, throttle: FailureThrottle) {
    const reasons: AuthFailureReason[] = [];
    const server = app(a, { failureThrottle: throttle, onFailure: (r) => reasons.push(r) });
    const tally = () => reasons.reduce<Record<string, number>>((n, r) => ({ ...n, [r]: (n[r] ?? 0) + 1 }), {});
    return { server, tally };
  }

  it('counts parallel guesses atomically: past the threshold they are refused unchecked', async () => {
    const throttle = new FailureThrottle({ clock: testClock() });
    const { server, tally } = countingApp(authenticator(), throttle);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(server).get('/Users').set('Authorization', `Bearer guess-${i}`)),
    );
    // Five free failures, then one check per spacing slot: the clock does not move, so one slot in all.
    expect(tally()).toEqual({ unknown_token: 6, throttled: 14 });
    expect(answers.filter((r) => r.status === 401)).toHaveLength(6);
    const refused = answers.filter((r) => r.status === 429);
    expect(refused).toHaveLength(14);
    for (const res of refused) {
      expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      expect(JSON.parse(res.text).status).toBe('429');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  });

  it('counts JWT checks still in flight against a client that has failed before', async () => {
    const throttle = new FailureThrottle({ clock: testClock() });
    const { server, tally } = countingApp(authenticator(), throttle);
    expect((await request(server).get('/Users').set('Authorization', 'Bearer first-guess')).status).toBe(401);
    // Forged JWTs: each check awaits the JWKS and the signature, so all twenty are in flight together.
    const forged = await signToken(await signingKey(rsaKey.kid), validClaims);
    await Promise.all(
      Array.from({ length: 20 }, () => request(server).get('/Users').set('Authorization', `Bearer ${forged}`)),
    );
    // 1 earlier failure + 4 in flight fill the threshold of 5; one more is admitted on the spacing slot.
    expect(tally()).toEqual({ unknown_token: 1, jwt_invalid: 5, throttled: 15 });
  });

  it('does not let a read-only success reset the count, nor anything but time', async () => {
    const clock = testClock();
    const throttle = new FailureThrottle({ clock });
    const { server, tally } = countingApp(authenticator(), throttle);
    const guess = () => request(server).get('/Users').set('Authorization', 'Bearer guess');
    for (let i = 0; i < 5; i++) expect((await guess()).status).toBe(401);

    // An attacker holding a leaked read-only token interleaves a success between guesses.
    await clock.advance(250);
    expect((await request(server).get('/Users').set('Authorization', `Bearer ${tokens[1].token}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await guess()).status).toBe(429);
    expect(tally()).toEqual({ unknown_token: 5, throttled: 3 });

    // The failures age out of the 60 s window: the client is free again.
    await clock.advance(60_000);
    expect((await guess()).status).toBe(401);
    expect(tally()).toEqual({ unknown_token: 6, throttled: 3 });
  });

  it('does not count requests that present no bearer credential: they guess nothing', async () => {
    const throttle = new FailureThrottle({ clock: testClock(), threshold: 1 });
    const { server, tally } = countingApp(authenticator(), throttle);
    for (let i = 0; i < 5; i++) expect((await request(server).get('/Users')).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      expect((await request(server).get('/Users').set('Authorization', 'Basic b2t0YTpzZWNyZXQ=')).status).toBe(401);
    }
    expect((await request(server).get('/Users').set('Authorization', `Bearer ${tokens[0].token}`)).status).toBe(200);
    expect(tally()).toEqual({ missing: 5, malformed: 5 });
  });

  /** Six wrong tokens: the five free failures and the open spacing slot; the address is now throttled. */
  async function throttle6(server: express.Express) {
    for (let i = 0; i < 6; i++) {
      expect((await request(server).get('/Users').set('Authorization', `Bearer wrong-${i}`)).status).toBe(401);
    }
    expect((await request(server).get('/Users').set('Authorization', 'Bearer wrong-again')).status).toBe(429);
  }

  it('serves a valid static token from an address over its budget, and still refuses the wrong ones', async () => {
    const throttle = new FailureThrottle({ clock: testClock() });
    const { server, tally } = countingApp(authenticator(), throttle);
    await throttle6(server);
    for (let i = 0; i < 10; i++) {
      const res = await request(server).get('/Users').set('Authorization', `Bearer ${tokens[0].token}`);
      expect(res.status).toBe(200);
      expect(res.body.name).toBe('okta');
    }
    // A valid read-only token is still only a reader: 403, not 429.
    expect((await request(server).post('/Users').set('Authorization', `Bearer ${tokens[1].token}`)).status).toBe(403);
    expect((await request(server).get('/Users').set('Authorization', 'Bearer wrong-still')).status).toBe(429);
    expect(tally()).toEqual({ unknown_token: 6, throttled: 2, read_only: 1 });
  });

  it('verifies a JWT naming this issuer and audience while throttled: a signed one is served, a forged one counts', async () => {
    const clock = testClock();
    const throttle = new FailureThrottle({ clock });
    const { server, tally } = countingApp(authenticator(), throttle);
    await throttle6(server);
    const signed = await signToken(rsaKey, validClaims);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => request(server).get('/Users').set('Authorization', `Bearer ${signed}`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(answers[0].body.name).toBe('jwt:0oa1okta-client');

    // Forged: the claims are right, the signature is not. Refused, and each one counts as a failure.
    const forged = await signToken(await signingKey(rsaKey.kid), validClaims);
    for (let i = 0; i < 3; i++) {
      const res = await request(server).get('/Users').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(429);
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    expect(tally()).toEqual({ unknown_token: 6, throttled: 4 });
    // 9 failures space the next slots out: 250 ms, then 4 s (with 6 failures the next would be 500 ms away).
    await clock.advance(250);
    expect((await request(server).get('/Users').set('Authorization', 'Bearer slot')).status).toBe(401);
    await clock.advance(500);
    expect((await request(server).get('/Users').set('Authorization', 'Bearer slot')).status).toBe(429);
  });

  it('refuses a JWT unverified while throttled when its claims name another issuer or audience, or it has expired', async () => {
    const throttle = new FailureThrottle({ clock: testClock() });
    const { server, tally } = countingApp(authenticator(), throttle);
    // The key set is fetched once, so a verification of a token with an unknown kid would fetch it again.
    expect(
      (
        await request(server)
          .get('/Users')
          .set('Authorization', `Bearer ${await signToken(rsaKey, validClaims)}`)
      ).status,
    ).toBe(200);
    await throttle6(server);
    const fetches = jwks.fetches;
    const unknownKey = await signingKey('key-nobody-publishes');
    for (const claims of [
      { ...validClaims, iss: 'https://elsewhere.example.test' },
      { ...validClaims, aud: 'api://another-app' },
      { ...validClaims, exp: nowSeconds - 3600 },
    ]) {
      const res = await request(server)
        .get('/Users')
        .set('Authorization', `Bearer ${await signToken(unknownKey, claims)}`);
      expect(res.status).toBe(429);
    }
    expect(jwks.fetches).toBe(fetches);
    expect(tally()).toEqual({ unknown_token: 6, throttled: 4 });
  });

  it('does not count an unreachable JWKS against the client', async () => {
    jwks.failWith = 503;
    const throttle = new FailureThrottle({ clock: testClock(), threshold: 1 });
    const { server, tally } = countingApp(authenticator(), throttle);
    const token = await signToken(rsaKey, validClaims);
    for (let i = 0; i < 3; i++) {
      expect((await request(server).get('/Users').set('Authorization', `Bearer ${token}`)).status).toBe(503);
    }
    expect(tally()).toEqual({ jwks_unavailable: 3 });
  });
});
