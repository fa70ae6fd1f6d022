import { redisTopologyOf } from '../../src/config/redisSettings';
import { loadConfig } from '../../src/config/environment';

const problems = (env: Record<string, string>) => {
  const r = redisTopologyOf(env);
  return r.ok ? [] : r.problems.map((p) => `${p.variable}: ${p.message}`);
};

describe('which Redis the replicas share', () => {
  it('keeps a plain REDIS_URL as it is', () => {
    expect(redisTopologyOf({ REDIS_URL: 'redis://cache:6379/2' })).toEqual({
      ok: true,
      topology: { mode: 'standalone', url: 'redis://cache:6379/2' },
    });
    expect(redisTopologyOf({})).toEqual({ ok: true });
  });

  it('puts REDIS_USERNAME / REDIS_PASSWORD into a REDIS_URL, encoded', () => {
    const r = redisTopologyOf({ REDIS_URL: 'rediss://cache:6380', REDIS_USERNAME: 'scim', REDIS_PASSWORD: 'p@ss:w' });
    expect(r.ok && r.topology).toEqual({ mode: 'standalone', url: 'rediss://scim:p%40ss%3Aw@cache:6380' });
  });

  it('reads sentinels, their name and both passwords, and TLS', () => {
    const r = redisTopologyOf({
      REDIS_SENTINELS: 's1:26379, s2:26379,[::1]:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_USERNAME: 'scim',
      REDIS_PASSWORD: 'data-secret',
      REDIS_TLS: 'on',
    });
    expect(r.ok && r.topology).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      sentinelUsername: undefined,
      sentinelPassword: 'sentinel-secret',
      username: 'scim',
      password: 'data-secret',
      tls: true,
    });
  });

  it('reads a cluster from REDIS_CLUSTER_NODES or from a redis+cluster:// URL', () => {
    const fromList = redisTopologyOf({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001' });
    expect(fromList.ok && fromList.topology).toMatchObject({ mode: 'cluster', tls: false });
    const fromUrl = redisTopologyOf({ REDIS_URL: 'rediss+cluster://scim:s%40cret@n1:7000,n2:7001' });
    expect(fromUrl.ok && fromUrl.topology).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      username: 'scim',
      password: 's@cret',
      tls: true,
    });
  });

  it.each([
    [
      { REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm' },
      /REDIS_URL: .*REDIS_SENTINELS.*only one/,
    ],
    [{ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n:1' }, /set only one/],
    [{ REDIS_URL: 'redis+cluster://n:1', REDIS_CLUSTER_NODES: 'n:1' }, /cluster/],
    [{ REDIS_SENTINELS: 's:1' }, /REDIS_SENTINEL_NAME: is needed/],
    [{ REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS: is needed/],
    [{ REDIS_SENTINELS: 's1:26379,s2', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS: "s2" is not host:port/],
    [{ REDIS_CLUSTER_NODES: 'n1:70000' }, /REDIS_CLUSTER_NODES: "n1:70000" is not host:port/],
    [{ REDIS_CLUSTER_NODES: ' , ' }, /REDIS_CLUSTER_NODES: lists no host:port/],
    [{ REDIS_URL: 'http://cache' }, /REDIS_URL: must start with redis:\/\//],
    [{ REDIS_URL: 'redis://cache', REDIS_TLS: 'on' }, /REDIS_TLS: .*rediss:\/\//],
    [{ REDIS_CLUSTER_NODES: 'n:1', REDIS_TLS: 'yes' }, /REDIS_TLS: must be on or off/],
  ])('refuses %j', (env, message) => {
    expect(problems(env as Record<string, string>).join('\n')).toMatch(message);
  });

  it('names the variable in the configuration error, never a password', () => {
    expect(() =>
      loadConfig({
        KIT_API_KEY: 'kit-key',
        SCIM_BEARER_TOKENS: 'iga=0123456789abcdef0123456789abcdef',
        REDIS_URL: 'redis://:hunter2-secret@cache:6379',
        REDIS_CLUSTER_NODES: 'n1:7000',
      }),
    ).toThrow(/REDIS_URL: names a Redis, and so does REDIS_CLUSTER_NODES/);
    try {
      loadConfig({
        KIT_API_KEY: 'kit-key',
        SCIM_BEARER_TOKENS: 'iga=0123456789abcdef0123456789abcdef',
        REDIS_URL: 'redis://:hunter2-secret@cache:6379',
        REDIS_CLUSTER_NODES: 'n1:7000',
      });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('refuses a WAIT timeout the command timeout would cut short', () => {
    expect(() =>
      loadConfig({
        KIT_API_KEY: 'kit-key',
        SCIM_BEARER_TOKENS: 'iga=0123456789abcdef0123456789abcdef',
        REDIS_CLUSTER_NODES: 'n1:7000',
        REDIS_REPLICA_ACK_TIMEOUT_MS: '1000',
      }),
    ).toThrow(/REDIS_REPLICA_ACK_TIMEOUT_MS must be less than REDIS_COMMAND_TIMEOUT_MS/);
  });

  it('without REDIS_REPLICA_ACK_TIMEOUT_MS, waits at most half a short command timeout', () => {
    const config = loadConfig({
      KIT_API_KEY: 'kit-key',
      SCIM_BEARER_TOKENS: 'iga=0123456789abcdef0123456789abcdef',
      REDIS_URL: 'redis://cache:6379',
      REDIS_COMMAND_TIMEOUT_MS: '300',
    });
    expect(config.redis.replicaAckTimeoutMs).toBe(150);
  });

  it('hands the topology and the WAIT timeout to the config', () => {
    const config = loadConfig({
      KIT_API_KEY: 'kit-key',
      SCIM_BEARER_TOKENS: 'iga=0123456789abcdef0123456789abcdef',
      REDIS_CLUSTER_NODES: 'n1:7000',
      REDIS_REPLICA_ACK_TIMEOUT_MS: '250',
    });
    expect(config.redisTopology).toMatchObject({ mode: 'cluster' });
    expect(config.redis.replicaAckTimeoutMs).toBe(250);
  });
});
