import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '../../src/config/environment';
import { Authenticator } from '../../src/http/auth';
import type { Tenant } from '../../src/app/tenant';
import { TenantDirectory } from '../../src/app/tenantDirectory';
import { stampClock } from '../support/clock';

// Whether a credential one tenant refused is another tenant's (answered 404 rather than 401).

const NOW = Date.parse('2030-06-01T08:00:00Z');

async function jwtSetup() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const resolver = createLocalJWKSet({ keys: [jwk] });
  const sign = (claims: { iss: string; aud: string }) =>
    new SignJWT({ scope: 'scim:write' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(claims.iss)
      .setAudience(claims.aud)
      .setSubject('okta-app')
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 300)
      .sign(privateKey);
  return { resolver, sign };
}

/** The parts of a Tenant the directory reads: its id, config (tokens, JWT settings) and authenticator. */
function fakeTenant(id: string, env: Record<string, string>, resolver?: ReturnType<typeof createLocalJWKSet>) {
  const config = loadConfig({ KIT_API_URL: 'https://api.kit.example', KIT_API_KEY: `key-${id}`, ...env });
  const authenticator = new Authenticator({
    bearerTokens: config.scim.bearerTokens,
    jwt: config.scim.jwt,
    clock: stampClock(() => NOW),
    jwks: resolver ? { resolver } : undefined,
  });
  return { id, config, authenticator } as unknown as Tenant;
}

describe('TenantDirectory.belongsElsewhere', () => {
  const tokenA = 'tenant-a-token-0123456789abcdef0123456789';
  const tokenB = 'tenant-b-token-0123456789abcdef0123456789';

  it("knows a static token of another tenant, but not one's own or a stranger's", async () => {
    const directory = new TenantDirectory();
    directory.put(fakeTenant('a', { SCIM_BEARER_TOKENS: `okta=${tokenA}` }));
    directory.put(fakeTenant('b', { SCIM_BEARER_TOKENS: `okta=${tokenB}` }));
    expect(await directory.belongsElsewhere('b', `Bearer ${tokenA}`)).toBe(true);
    expect(await directory.belongsElsewhere('a', `Bearer ${tokenA}`)).toBe(false);
    expect(await directory.belongsElsewhere('b', 'Bearer stranger-token-0123456789abcdef012345')).toBe(false);
    expect(await directory.belongsElsewhere('b', `Basic ${tokenA}`)).toBe(false);
    // Removed from the directory: its tokens are nobody's any more.
    directory.remove('a');
    expect(await directory.belongsElsewhere('b', `Bearer ${tokenA}`)).toBe(false);
  });

  it("knows a JWT that verifies for another tenant's issuer and audience", async () => {
    const { resolver, sign } = await jwtSetup();
    const jwtEnv = (aud: string) => ({
      SCIM_BEARER_TOKENS: `okta=${aud === 'scim-a' ? tokenA : tokenB}`,
      SCIM_JWT_JWKS_URL: 'https://idp.example/jwks',
      SCIM_JWT_ISSUER: 'https://idp.example',
      SCIM_JWT_AUDIENCE: aud,
    });
    const directory = new TenantDirectory();
    directory.put(fakeTenant('a', jwtEnv('scim-a'), resolver));
    directory.put(fakeTenant('b', jwtEnv('scim-b'), resolver));
    const forA = await sign({ iss: 'https://idp.example', aud: 'scim-a' });
    expect(await directory.belongsElsewhere('b', `Bearer ${forA}`)).toBe(true);
    expect(await directory.belongsElsewhere('a', `Bearer ${forA}`)).toBe(false);
    // Claims naming tenant A's audience from another issuer: verified against nobody.
    const forged = await sign({ iss: 'https://evil.example', aud: 'scim-a' });
    expect(await directory.belongsElsewhere('b', `Bearer ${forged}`)).toBe(false);
  });
});
