import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { EventSigner } from '../../src/events/signer';

// Signing keys: ES256 by default, a configured JWK, a key file kept across restarts, rotation keeping the old
// public key in the JWKS so SETs signed before the switch still verify.

describe('EventSigner', () => {
  it('signs an ES256 SET with typ secevent+jwt that verifies against its JWKS, which holds no private member', async () => {
    const signer = await EventSigner.fromJwk(await EventSigner.generateJwk());
    const jwt = await signer.sign({ iss: 'https://scim.example.com', jti: 'j1' }, 'aud-1');
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: signer.kid, typ: 'secevent+jwt' });
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(signer.jwks()), { audience: 'aud-1' });
    expect(payload.jti).toBe('j1');
    expect(JSON.stringify(signer.jwks())).not.toMatch(/"d"/);
  });

  it('a key file is created once (mode 0600) and the same key is used after a restart', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scim-events-')), 'key.json');
    const first = await EventSigner.fromFile(path);
    const again = await EventSigner.fromFile(path);
    expect(again.kid).toBe(first.kid);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a key file that cannot be written names the setting and the path, not a bare ENOENT', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scim-events-')), 'missing-dir', 'key.json');
    await expect(EventSigner.fromFile(path)).rejects.toThrow(
      `SCIM_EVENTS_KEY_FILE (or a tenant's events.keyFile): cannot use ${path} for the security events signing key (its directory does not exist)`,
    );
  });

  it('rotation: SETs signed with the previous key still verify while its public key is kept in the JWKS', async () => {
    const old = await EventSigner.fromJwk(await EventSigner.generateJwk());
    const inFlight = await old.sign({ jti: 'old' }, 'aud');
    const rotated = await EventSigner.fromJwk(await EventSigner.generateJwk(), old.jwks().keys);
    expect(rotated.jwks().keys.map((k) => k.kid)).toEqual([rotated.kid, old.kid]);
    await expect(jwtVerify(inFlight, createLocalJWKSet(rotated.jwks()))).resolves.toBeDefined();
    const dropped = await EventSigner.fromJwk(await EventSigner.generateJwk());
    await expect(jwtVerify(inFlight, createLocalJWKSet(dropped.jwks()))).rejects.toThrow();
  });
});
