import type { Path } from './envInterpolation';
import type { KitSettings } from '../settings';
import { baseUrlOf, type KitDefaults, tenantTokenStoreOf } from './tenantConfig';
import type { TenantsFile } from './tenantsFileSchema';

// The rules of a tenants file that span entries: a tenant is found by its id (path) and its credential (token or
// JWT), so both must point at one tenant; tenants on one Kit credential share its limiter, so they must agree
// on its budget. Problems name ids and token names, never a token or a key.

type Report = (path: Path, message: string) => void;

export function checkTenantRules(file: TenantsFile, defaults: KitDefaults, report: Report): void {
  uniqueIds(file, report);
  uniqueTokens(file, report);
  uniqueJwtAudiences(file, report);
  sharedKitCredentials(file, defaults, report);
}

function uniqueIds(file: TenantsFile, report: Report): void {
  const first = new Map<string, number>();
  file.tenants.forEach((t, i) => {
    const j = first.get(t.id);
    if (j === undefined) first.set(t.id, i);
    else report(['tenants', i, 'id'], `the id "${t.id}" is already the id of tenants.${j}`);
  });
}

interface TokenOwner {
  /** `tenant "brand-a"` or `operators`. */
  owner: string;
  what: string;
}

function uniqueTokens(file: TenantsFile, report: Report): void {
  const seen = new Map<string, TokenOwner>();
  const claim = (token: string, path: Path, owner: string, what: string) => {
    const other = seen.get(token);
    if (!other) return void seen.set(token, { owner, what });
    const where = other.owner === owner ? 'of this tenant too' : `of ${other.owner}`;
    report(
      path,
      `${what} is the same token as ${other.what} ${where}: a token must identify one tenant and one role; generate another (openssl rand -hex 32)`,
    );
  };
  (file.operators?.bearerTokens ?? []).forEach((b, i) =>
    claim(b.token, ['operators', 'bearerTokens', i, 'token'], 'operators', `the token "${b.name}"`),
  );
  file.tenants.forEach((t, i) => {
    const owner = `tenant "${t.id}"`;
    for (const list of ['bearerTokens', 'readOnlyBearerTokens'] as const)
      t[list].forEach((b, j) => claim(b.token, ['tenants', i, list, j, 'token'], owner, `the token "${b.name}"`));
    (t.events?.receivers ?? []).forEach((r, j) =>
      claim(r.token, ['tenants', i, 'events', 'receivers', j, 'token'], owner, `the token of receiver "${r.name}"`),
    );
  });
}

/** With routing by path, a JWT valid for two tenants would be a credential for both. */
function uniqueJwtAudiences(file: TenantsFile, report: Report): void {
  const seen = new Map<string, string>();
  file.tenants.forEach((t, i) => {
    if (!t.jwt) return;
    const key = JSON.stringify([t.jwt.issuer, t.jwt.audience]);
    const other = seen.get(key);
    if (other === undefined) return void seen.set(key, t.id);
    report(
      ['tenants', i, 'jwt', 'audience'],
      `tenant "${other}" accepts JWTs of the same issuer and audience: a JWT must identify one tenant; give each tenant its own audience`,
    );
  });
}

/** What identifies a Kit credential, as the limiter keys it; undefined for the sandbox. */
function credentialIdentity(kit: KitSettings, baseUrl: string): string | undefined {
  const secret = kit.apiKey ?? kit.apiSecret ?? kit.oauth?.refreshToken ?? kit.oauth?.accessToken;
  return secret === undefined ? undefined : JSON.stringify([baseUrl, secret]);
}

function sharedKitCredentials(file: TenantsFile, defaults: KitDefaults, report: Report): void {
  const first = new Map<string, number>();
  const rateOf = (kit: KitSettings) => kit.ratePerMinute ?? defaults.ratePerMinute;
  file.tenants.forEach((t, i) => {
    const identity = credentialIdentity(t.kit, baseUrlOf(t.kit, defaults));
    if (identity === undefined) return;
    const j = first.get(identity);
    if (j === undefined) return void first.set(identity, i);
    const other = file.tenants[j];
    if (rateOf(t.kit) !== rateOf(other.kit))
      report(
        ['tenants', i, 'kit', 'ratePerMinute'],
        `tenants "${other.id}" and "${t.id}" use the same Kit credential, so they share one limiter: give them the same ratePerMinute`,
      );
    // Kit rotates the refresh token on every refresh: two stores would each hold a pair the other just spent.
    if (t.kit.oauth && tenantTokenStoreOf(t.kit, t.id, '.') !== tenantTokenStoreOf(other.kit, other.id, '.'))
      report(
        ['tenants', i, 'kit', 'oauth', 'tokenStore'],
        `tenants "${other.id}" and "${t.id}" use the same Kit OAuth tokens: give them the same tokenStore (redis, or one file), or Kit’s refresh-token rotation would lock one of them out`,
      );
  });
}
