import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';

// The three ways replicas reach their shared Redis, and the one place an ioredis client is built for each.
//
// - standalone: one Redis named by a URL (redis:// or rediss://), exactly as REDIS_URL always meant.
// - sentinel: ioredis asks the sentinels for the primary of `name`, and again whenever the connection drops or
//   a sentinel announces +switch-master, so a failover is followed without a restart.
// - cluster: keys spread over shards by hash slot; every multi-key script names keys sharing one `{hash tag}`
//   (see redisKeys.ts) so each runs on one shard.

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** ACL user and password of the data nodes, and whether they speak TLS. */
export interface RedisAccess {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTopology =
  | { mode: 'standalone'; url: string }
  | ({
      mode: 'sentinel';
      sentinels: RedisEndpoint[];
      /** The primary's name the sentinels monitor (`sentinel monitor <name> ...`). */
      name: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
    } & RedisAccess)
  | ({ mode: 'cluster'; nodes: RedisEndpoint[] } & RedisAccess);

/** What /readyz, /status and doctor say about the topology. */
export interface RedisTopologyState {
  mode: RedisTopology['mode'];
  /** sentinel: the primary this replica talks to now (host:port), once connected. */
  primary?: string;
  /** cluster: how many shards (primaries) hold slots. */
  shards?: number;
  /** The link was healthy and is not now, in a topology that fails over: a failover is (probably) under way. */
  failoverInProgress: boolean;
}

/** The client options every mode shares; `retryStrategy` decides how long to keep reconnecting. */
export interface RedisClientBehaviour {
  commandTimeoutMs: number;
  retryStrategy: (times: number) => number | null;
}

export type RedisClient = Redis | Cluster;

export function createRedisClient(topology: RedisTopology, behaviour: RedisClientBehaviour): RedisClient {
  const common: RedisOptions = {
    commandTimeout: behaviour.commandTimeoutMs,
    // Fail at once while disconnected instead of queueing commands for a Redis that may never come back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: behaviour.retryStrategy,
    // How long disconnect() lets the socket close politely before destroying it. ioredis arms this timer even
    // when the socket is long gone (Redis down, reconnecting), and nothing clears it then, so with the default
    // 2 s a process that closed its link still could not exit for 2 s. close() never waits on Redis anyway.
    disconnectTimeout: 0,
  };
  switch (topology.mode) {
    case 'standalone':
      return new Redis(topology.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: topology.sentinels,
        name: topology.name,
        role: 'master',
        username: topology.username,
        password: topology.password,
        sentinelUsername: topology.sentinelUsername,
        sentinelPassword: topology.sentinelPassword,
        tls: topology.tls ? {} : undefined,
        enableTLSForSentinelMode: topology.tls,
        // Sentinels publish +switch-master the moment they promote a replica; without this the client would
        // only notice when the old primary's socket dies (or, after a partition, never while it still answers).
        failoverDetector: true,
        sentinelRetryStrategy: behaviour.retryStrategy,
        // A demoted primary that comes back answers writes with READONLY: reconnect, which asks the sentinels.
        reconnectOnError: (err) => /READONLY/.test(err.message),
      });
    case 'cluster': {
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        clusterRetryStrategy: behaviour.retryStrategy,
        // After a shard's primary fails, the cluster promotes its replica; a second-by-second slot refresh finds
        // it even when no command met a MOVED.
        slotsRefreshInterval: 1000,
        slotsRefreshTimeout: behaviour.commandTimeoutMs,
        scaleReads: 'master',
        // Managed clusters (ElastiCache with TLS) present certificates for the configured name, not for the IPs
        // CLUSTER SLOTS reports, so names are kept as given.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: {
          ...common,
          username: topology.username,
          password: topology.password,
          tls: topology.tls ? {} : undefined,
        },
      };
      return new Cluster(topology.nodes, options);
    }
  }
}

/** Whether a primary's writes are copied to replicas that may replace it (WAIT makes sense). */
export function failsOver(topology: RedisTopology): boolean {
  return topology.mode !== 'standalone';
}

/** host:port of where the topology starts (no credentials): for log lines and doctor. */
export function describeTopology(topology: RedisTopology): string {
  const list = (eps: RedisEndpoint[]) => eps.map((e) => `${e.host}:${e.port}`).join(',');
  switch (topology.mode) {
    case 'standalone':
      try {
        const u = new URL(topology.url);
        return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
      } catch {
        return '(unparseable REDIS_URL)';
      }
    case 'sentinel':
      return `sentinel "${topology.name}" via ${list(topology.sentinels)}${topology.tls ? ' (TLS)' : ''}`;
    case 'cluster':
      return `cluster via ${list(topology.nodes)}${topology.tls ? ' (TLS)' : ''}`;
  }
}
