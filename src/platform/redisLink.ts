import type { ChainableCommander, default as Redis } from 'ioredis';
import { Cluster } from 'ioredis';
import { type Clock, systemClock, type TimerHandle } from './clock';
import {
  createRedisClient,
  failsOver,
  type RedisClient,
  type RedisTopology,
  type RedisTopologyState,
} from './redisTopology';

// One connection to the Redis every replica shares (limiter slots, page caches, OAuth tokens), and the one
// judge of whether it can be used right now.
//
// Why not just call Redis and see: a paused Redis (SIGSTOP, a long fork, a network partition) keeps the TCP
// connection open and answers nothing, so every caller would wait out its own timeout, one after another.
// Instead a command that fails or times out marks the link unhealthy; while unhealthy, callers get an
// immediate RedisUnavailableError and fall back (the limiter to a per-replica budget, the caches to no
// cache); a probe (PING) runs every `probeIntervalMs` and the first answer makes the link healthy again.
// Nothing here registers state in Redis that could be forgotten: a Redis restarted empty is simply healthy
// again, and each user of the link re-creates what it needs from scratch.

export interface RedisLinkOptions {
  /** A plain Redis (redis:// or rediss://); or give `topology`. */
  url?: string;
  /** Standalone, sentinel or cluster (redisTopology.ts); wins over `url`. */
  topology?: RedisTopology;
  /**
   * Sentinel and cluster: how long a write that must survive a failover (a booked Kit slot, an OAuth refresh
   * lease) waits for one replica to acknowledge it (WAIT 1 <ms>) before it is treated as not made.
   */
  replicaAckTimeoutMs?: number;
  /** No Redis command waits longer than this. */
  commandTimeoutMs?: number;
  /** How often a PING checks the link, healthy or not. */
  probeIntervalMs?: number;
  clock?: Clock;
  /** Called when the link turns healthy or unhealthy, with the reason. */
  onHealthChange?: (healthy: boolean, detail: string) => void;
}

export class RedisUnavailableError extends Error {
  constructor(reason: string) {
    super(`Redis is unavailable: ${reason}`);
    this.name = 'RedisUnavailableError';
  }
}

export class RedisLink {
  /**
   * The ioredis client. In cluster mode it is a Cluster, typed as Redis for its users: both answer the same
   * commands, and every multi-key command here names keys of one hash slot (redisKeys.ts), which is all a Cluster
   * needs to route it.
   */
  readonly client: Redis;
  readonly topology: RedisTopology;
  private everHealthy = false;
  private healthyNow = false;
  /** Whether a failure of this link was told to onHealthChange before it was ever healthy. */
  private failureTold = false;
  private reason = 'connecting';
  private probeTimer?: TimerHandle;
  private probing = false;
  private closed = false;
  private readonly clock: Clock;
  private readonly probeIntervalMs: number;
  private readonly recoveryListeners = new Set<() => void>();
  private readonly failoverListeners = new Set<() => void>();
  /** Which primary (sentinel) or primaries (cluster) the link reached when it was last healthy. */
  private reachedPrimaries?: string;
  private failoversSeen = 0;
  /** Sentinel: whether the primary had a connected replica at the last probe (cluster: assumed). */
  private primaryHasReplica = true;

  constructor(private readonly opts: RedisLinkOptions) {
    this.clock = opts.clock ?? systemClock;
    this.probeIntervalMs = opts.probeIntervalMs ?? 1000;
    const topology = opts.topology ?? (opts.url ? { mode: 'standalone' as const, url: opts.url } : undefined);
    if (!topology) throw new Error('RedisLink needs a url or a topology');
    this.topology = topology;
    this.client = createRedisClient(topology, {
      commandTimeoutMs: opts.commandTimeoutMs ?? 1000,
      // Reconnect for as long as we run, at most a second apart, so a restarted Redis is found quickly.
      retryStrategy: (times) => (this.closed ? null : Math.min(100 * times, 1000)),
    }) as Redis;
    // ioredis reports connection trouble through 'error'; the probe turns it into health.
    this.client.on('error', (err: Error) => this.markFailed(err.message));
    this.client.on('close', () => this.markFailed('connection closed'));
    this.client.on('ready', () => void this.probe());
    this.scheduleProbe();
  }

  get healthy(): boolean {
    return this.healthyNow;
  }

  get detail(): string {
    return this.healthyNow ? 'ok' : this.reason;
  }

  /** Whether writes that must survive a failover are confirmed with WAIT (sentinel and cluster). */
  get confirmsReplication(): boolean {
    return failsOver(this.topology);
  }

  /** How long `WAIT 1 <ms>` may take; the callers put it in the same pipeline as their write. */
  get replicaAckTimeoutMs(): number {
    return this.opts.replicaAckTimeoutMs ?? 500;
  }

  /** The mode, the primary in use (sentinel) or the shard count (cluster), and whether it is failing over. */
  state(): RedisTopologyState {
    const mode = this.topology.mode;
    const failoverInProgress = failsOver(this.topology) && this.everHealthy && !this.healthyNow;
    const raw = this.client as RedisClient;
    if (raw instanceof Cluster) return { mode, shards: raw.nodes('master').length, failoverInProgress };
    if (mode === 'sentinel') {
      const stream = (raw as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
      const primary =
        this.healthyNow && stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : undefined;
      return { mode, ...(primary ? { primary } : {}), failoverInProgress };
    }
    return { mode, failoverInProgress };
  }

  /**
   * Runs one operation against Redis, or fails at once (RedisUnavailableError) while the link is unhealthy.
   * A failure of the operation itself marks the link unhealthy until the next successful probe.
   */
  async run<T>(op: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.healthyNow) throw new RedisUnavailableError(this.reason);
    try {
      return await op(this.client);
    } catch (err) {
      // A reply error (wrong type, a script bug) means Redis answered: the link itself is fine.
      if (!isReplyError(err)) this.markFailed((err as Error).message);
      throw new RedisUnavailableError((err as Error).message);
    }
  }

  /**
   * Runs the commands `build` puts in a pipeline and, in a topology that fails over, `WAIT 1 <ms>` after them on
   * the same connection (in a cluster, the shard their keys hash to): `replicated` tells whether a replica holds
   * the writes, so a promotion of that replica keeps them. Standalone: always true, nothing waits. A WAIT holds
   * every later command on the connection while it waits: callers that can simply ask again later pass a short
   * `ackTimeoutMs`.
   */
  async runReplicated(
    build: (pipe: ChainableCommander) => ChainableCommander,
    ackTimeoutMs = this.replicaAckTimeoutMs,
  ): Promise<{ replies: unknown[]; replicated: boolean }> {
    return this.run(async (c) => {
      const waits = this.confirmsReplication && this.primaryHasReplica;
      const pipe = build(c.pipeline());
      if (waits) pipe.wait(1, ackTimeoutMs);
      const results = (await pipe.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
      const replies = results.map(([, reply]) => reply);
      // A primary known to have no replica: nothing can confirm, so nothing waits.
      const acknowledged = waits ? Number(replies.pop()) : this.confirmsReplication ? 0 : 1;
      return { replies, replicated: acknowledged >= 1 };
    });
  }

  /**
   * How many times the link came back to other primaries than it had left (a failover): writes made before that
   * and not confirmed by a replica (runReplicated) may be missing now.
   */
  get failovers(): number {
    return this.failoversSeen;
  }

  /**
   * Called when the link comes back to another primary than it left (sentinel: another address; cluster: another
   * set of shard primaries), before the recovery listeners: whoever kept writes a replica never acknowledged, or
   * trusts data the old primary may not have passed on, repairs it here.
   */
  onFailover(listener: () => void): () => void {
    this.failoverListeners.add(listener);
    return () => this.failoverListeners.delete(listener);
  }

  /** Called each time the link turns healthy again (e.g. to re-send what was dropped meanwhile). */
  onRecovery(listener: () => void): () => void {
    this.recoveryListeners.add(listener);
    return () => this.recoveryListeners.delete(listener);
  }

  /** Resolves once the link is healthy or `timeoutMs` has passed; tells which. */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    if (this.healthyNow) return true;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        off();
        resolve(this.healthyNow);
      }, timeoutMs);
      const off = this.onRecovery(() => {
        this.clock.clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.probeTimer);
    this.recoveryListeners.clear();
    this.failoverListeners.clear();
    // quit() would wait on a Redis that does not answer; shutdown must not.
    this.client.disconnect();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = this.clock.setTimeout(
      () => {
        void this.probe().finally(() => this.scheduleProbe());
      },
      this.probeIntervalMs,
      { background: true },
    );
  }

  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const raw = this.client as RedisClient;
      // A cluster answers only as well as its worst shard: a PING to one random node would call a cluster with
      // a shard down healthy, and scripts for that shard's tenants would fail one by one.
      if (raw instanceof Cluster) {
        const primaries = raw.nodes('master');
        if (primaries.length === 0) throw new Error('no cluster primary known yet');
        await Promise.all(primaries.map((node) => node.ping()));
        const info = await primaries[0]!.cluster('INFO');
        if (!/cluster_state:ok/.test(String(info))) throw new Error('cluster state is not ok');
      } else if (failsOver(this.topology)) {
        // The probe learns whether the primary has a replica at all: a WAIT that no replica can answer holds the
        // connection for its whole timeout, and every command queued behind it (this probe too) waits as well.
        const info = String(await this.client.info('replication'));
        this.primaryHasReplica = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 1) > 0;
      } else {
        await this.client.ping();
      }
      this.markHealthy();
    } catch (err) {
      this.markFailed((err as Error).message);
    } finally {
      this.probing = false;
    }
  }

  private markHealthy(): void {
    if (this.healthyNow || this.closed) return;
    this.healthyNow = true;
    this.everHealthy = true;
    this.opts.onHealthChange?.(true, 'ok');
    const primaries = this.primariesNow();
    const movedOn =
      primaries !== undefined && this.reachedPrimaries !== undefined && primaries !== this.reachedPrimaries;
    if (primaries !== undefined) this.reachedPrimaries = primaries;
    if (movedOn) {
      this.failoversSeen++;
      for (const listener of [...this.failoverListeners]) listener();
    }
    for (const listener of [...this.recoveryListeners]) listener();
  }

  /** The primaries reached now, as one comparable string; undefined standalone (nothing to fail over to). */
  private primariesNow(): string | undefined {
    if (!failsOver(this.topology)) return undefined;
    const raw = this.client as RedisClient;
    if (raw instanceof Cluster)
      return raw
        .nodes('master')
        .map((n) => `${n.options.host}:${n.options.port}`)
        .sort()
        .join(',');
    return this.state().primary;
  }

  private markFailed(reason: string): void {
    // Told on every fall from health, and once for the first failure of a link never healthy yet: the reason a
    // fresh start cannot reach Redis (a refused connection, a certificate it cannot verify) must reach the log
    // and /readyz, not stay "connecting". Reconnect attempts repeat it; those are not told again.
    const tell = this.healthyNow || (!this.everHealthy && !this.failureTold);
    this.healthyNow = false;
    this.reason = reason;
    if (tell && !this.closed) {
      this.failureTold = true;
      this.opts.onHealthChange?.(false, reason);
    }
  }
}

function isReplyError(err: unknown): boolean {
  return (err as Error)?.name === 'ReplyError' && !/LOADING|BUSY|MASTERDOWN|READONLY/.test((err as Error).message);
}
