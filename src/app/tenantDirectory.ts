import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { TenantDirectoryView } from '../http/app';
import type { Tenant } from './tenant';

// The tenants the process serves right now, by id, and the one question that spans them: is a
// credential that one tenant refused valid for another? Such a request is answered as if the path did not
// exist (404): a tenant's client must learn nothing of the others, not even that its credential is good
// elsewhere. Static tokens are looked up by digest in an index over every tenant; a JWT is checked only
// against the tenants whose issuer and audience its (unverified) claims name, then verified for real.

const BEARER = /^Bearer +(\S+) *$/i;

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TenantDirectory implements TenantDirectoryView {
  private readonly tenants = new Map<string, Tenant>();
  /** Static token digest → the tenants that accept it. */
  private tokens = new Map<string, Set<string>>();

  find(id: string): Tenant | undefined {
    return this.tenants.get(id);
  }

  only(): Tenant | undefined {
    return this.tenants.size === 1 ? this.tenants.values().next().value : undefined;
  }

  /** In the order they were added (the first is what Service's single-tenant accessors show). */
  all(): Tenant[] {
    return [...this.tenants.values()];
  }

  get size(): number {
    return this.tenants.size;
  }

  /** Adds or replaces the tenant with this id: from now on new requests reach `tenant`. */
  put(tenant: Tenant): void {
    this.tenants.set(tenant.id, tenant);
    this.reindex();
  }

  /** Takes a tenant out: new requests for it are 404s. Requests already inside it are its to finish. */
  remove(id: string): Tenant | undefined {
    const tenant = this.tenants.get(id);
    this.tenants.delete(id);
    this.reindex();
    return tenant;
  }

  /** Whether `authorization` (a credential `self` refused) is a credential of another tenant. */
  async belongsElsewhere(self: string, authorization: string): Promise<boolean> {
    const presented = BEARER.exec(authorization)?.[1];
    if (!presented) return false;
    for (const id of this.tokens.get(digest(presented)) ?? []) if (id !== self) return true;
    const claims = unverifiedClaims(presented);
    if (!claims) return false;
    for (const tenant of this.tenants.values()) {
      const jwt = tenant.config.scim.jwt;
      if (tenant.id === self || !jwt || jwt.issuer !== claims.iss || !claims.aud.includes(jwt.audience)) continue;
      const principal = await tenant.authenticator.authenticate(authorization).catch(() => undefined);
      if (principal) return true;
    }
    return false;
  }

  private reindex(): void {
    const tokens = new Map<string, Set<string>>();
    for (const tenant of this.tenants.values()) {
      // Event receivers' tokens too: a receiver of one tenant learns nothing at another's Events endpoint.
      const receivers = tenant.config.events?.receivers ?? [];
      for (const t of [...tenant.config.scim.bearerTokens, ...receivers]) {
        const key = digest(t.token);
        if (!tokens.has(key)) tokens.set(key, new Set());
        tokens.get(key)!.add(tenant.id);
      }
    }
    this.tokens = tokens;
  }
}

/** The issuer and audiences a JWT claims, unverified: only to pick the tenants worth verifying it against. */
function unverifiedClaims(token: string): { iss: string; aud: string[] } | undefined {
  try {
    const payload = decodeJwt(token);
    if (typeof payload.iss !== 'string') return undefined;
    const aud = Array.isArray(payload.aud) ? payload.aud : typeof payload.aud === 'string' ? [payload.aud] : [];
    return { iss: payload.iss, aud };
  } catch {
    return undefined;
  }
}
