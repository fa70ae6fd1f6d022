import { isIP } from 'node:net';

// SCIM_IP_ALLOWLIST's entries, read once with the rest of the configuration; http/ipAllowlist.ts applies them.

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * `203.0.113.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128). Throws with a message that names the
 * entry (network addresses are not secrets).
 */
export function parseCidr(entry: string): Cidr {
  const [address, prefixText, ...rest] = entry.trim().split('/');
  const version = isIP(address ?? '');
  if (rest.length > 0 || version === 0) throw new Error(`"${entry.trim()}" is not an IP address or CIDR range`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
    throw new Error(`"${entry.trim()}" has a prefix length outside 0-${max}`);
  return { address, prefix: Number(prefixText), family };
}
