import calculateSlot from 'cluster-key-slot';
import { tenantRedisPrefix } from '../../src/app/tenant';
import { slotBookKeys } from '../../src/kit/slots';
import { hashTag } from '../../src/platform/redisKeys';

// Redis Cluster refuses a script or MULTI whose keys hash to different slots (CROSSSLOT). These are the key
// groups the scripts and transactions touch together, named as the stores name them.

const slotsOf = (keys: string[]) => new Set(keys.map((k) => calculateSlot(k)));

const groupsUnder = (prefix: string): Record<string, string[]> => ({
  journal: ['latest', 'feed', 'horizon', 'states'].map((k) => `${prefix}journal:${k}`),
  mirror: ['rec', 'ids', 'email', 'ext', 'uname', 'complete', 'walker'].map((k) => `${prefix}m:${k}`),
  outbox: ['q', 'd', 'l', 'seq'].map((k) => `${prefix}events:okta:${k}`),
  pages: [`${prefix}gen:users`, `${prefix}page:users:1`],
  lookups: [`${prefix}lookup:a@example.com`, `${prefix}lookup:b@example.com`],
});

describe('hash tags: every key group a script touches lies in one cluster slot', () => {
  it.each(['default', 'acme'])('tenant %s: journal, mirror, outbox, pages and lookup snapshots', (tenant) => {
    for (const namespace of ['changes', 'events', 'cache']) {
      const prefix = tenantRedisPrefix(tenant, `${namespace}-0123456789abcdef01234567`);
      for (const [group, keys] of Object.entries(groupsUnder(prefix))) {
        expect([group, slotsOf(keys).size]).toEqual([group, 1]);
      }
    }
  });

  it("the limiter's next slot and pause marker", () => {
    const { next, pause } = slotBookKeys('kit-0123456789abcdef01234567');
    expect(calculateSlot(next)).toBe(calculateSlot(pause));
  });

  it('different tenants and credentials spread over slots instead of one shard holding all', () => {
    const slots = new Set(
      Array.from({ length: 50 }, (_, i) => calculateSlot(tenantRedisPrefix(`t${i}`, 'changes-abc') + 'journal:feed')),
    );
    expect(slots.size).toBeGreaterThan(40);
  });

  it('a brace inside a part cannot cut the tag short', () => {
    expect(hashTag('a}b', 'c{d')).toBe('{a_b:c_d}');
  });
});
