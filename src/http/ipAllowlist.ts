import { BlockList, isIP } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ScimForbidden } from '../scim/errors';
import { sendFailure } from './scimResponses';
import type { Cidr } from '../config/cidr';

// SCIM_IP_ALLOWLIST: the networks an IdP calls from (Okta and Entra publish theirs). A caller from anywhere
// else is refused before its credential is looked at, so a leaked token is useless from outside and a
// guesser costs no token check, no JWKS fetch and no failure-throttle entry.

export class IpAllowlist {
  private readonly list = new BlockList();

  constructor(readonly ranges: readonly Cidr[]) {
    for (const r of ranges) this.list.addSubnet(r.address, r.prefix, r.family);
  }

  /** IPv4 callers of a dual-stack socket arrive as `::ffff:a.b.c.d`; BlockList matches those against IPv4 ranges. */
  allows(ip: string | undefined): boolean {
    if (!ip) return false;
    const address = ip.split('%')[0];
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * Refuses callers outside the allow-list with a 403 SCIM error. The address is express's `req.ip`, so behind a
 * load balancer it is the client only when `trust proxy` (TRUST_PROXY) names the proxies; otherwise it is the
 * proxy's own address and the list must hold the proxies.
 */
export function ipAllowlistMiddleware(allowlist: IpAllowlist, onRefusal?: () => void): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (allowlist.allows(req.ip ?? req.socket.remoteAddress)) {
      next();
      return;
    }
    onRefusal?.();
    sendFailure(res, new ScimForbidden('Requests from this network address are not allowed (SCIM_IP_ALLOWLIST).'));
  };
}
