import type { RedisLink } from './redisLink';

// A lease on one Redis key held by an owner token: taken with SET NX PX, renewed and released only by the
// token that holds it, so a holder whose lease expired and was taken by another never extends or frees the
// other's. What to do while another holds it (wait, give up, go ahead) is the caller's.

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

type LeaseClient = {
  kscimReleaseLease(key: string, owner: string): Promise<number>;
  kscimRenewLease(key: string, owner: string, ms: string): Promise<number>;
};

function leaseClient(link: RedisLink): void {
  if ('kscimReleaseLease' in link.client) return;
  link.client.defineCommand('kscimReleaseLease', { numberOfKeys: 1, lua: RELEASE_LUA });
  link.client.defineCommand('kscimRenewLease', { numberOfKeys: 1, lua: RENEW_LUA });
}

/** Frees the lease if `owner` still holds it; throws while Redis cannot be reached. */
export async function releaseLease(link: RedisLink, key: string, owner: string): Promise<void> {
  leaseClient(link);
  await link.run((c) => (c as unknown as LeaseClient).kscimReleaseLease(key, owner));
}

/** Extends the lease to `ms` from now if `owner` still holds it; whether it did. */
export async function renewLease(link: RedisLink, key: string, owner: string, ms: number): Promise<boolean> {
  leaseClient(link);
  return (await link.run((c) => (c as unknown as LeaseClient).kscimRenewLease(key, owner, String(ms)))) === 1;
}
