import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { eventually } from './privateRedis';
import { freePort } from './serverProcess';

// Real Redis topologies of the test's own, from Debian's redis-server on free ports: a primary with a replica
// watched by three sentinels, and a three-shard cluster with one replica per shard. Each node can be killed
// (SIGKILL) to force a failover; stop() kills whatever is left and removes the working directory.

export const hasRedisTopologies =
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

interface Node {
  port: number;
  child: ChildProcess;
}

const QUIET = ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--protected-mode', 'no'];

async function answers(port: number): Promise<string | undefined> {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.ping();
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

async function ask<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    return await run(r);
  } finally {
    r.disconnect();
  }
}

abstract class Topology {
  protected readonly nodes: Node[] = [];
  protected readonly dir = mkdtempSync(join(tmpdir(), 'kscim-redis-'));

  protected async spawnNode(args: (port: number) => string[]): Promise<Node> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = spawn('redis-server', args(port), { stdio: 'ignore', cwd: this.dir });
      const node = { port, child };
      this.nodes.push(node);
      try {
        await eventually(
          async () => {
            if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited`);
            return (await answers(port)) === 'PONG';
          },
          100,
          50,
        );
        return node;
      } catch (err) {
        await this.killNode(node);
        if (attempt >= 5) throw err;
      }
    }
  }

  async killNode(node: Node): Promise<void> {
    if (node.child.exitCode !== null || node.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      node.child.once('exit', () => resolve());
      node.child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.killNode(n)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class SentinelTopology extends Topology {
  readonly name = 'kscim';
  primary!: Node;
  replica!: Node;
  sentinels: Node[] = [];

  static async start(): Promise<SentinelTopology> {
    const t = new SentinelTopology();
    try {
      t.primary = await t.spawnNode((port) => ['--port', String(port), ...QUIET]);
      t.replica = await t.spawnNode((port) => [
        '--port',
        String(port),
        ...QUIET,
        '--replicaof',
        '127.0.0.1',
        String(t.primary.port),
      ]);
      await eventually(async () =>
        /master_link_status:up/.test(await ask(t.replica.port, (r) => r.info('replication'))),
      );
      for (let i = 0; i < 3; i++) {
        t.sentinels.push(
          await t.spawnNode((port) => {
            const file = join(t.dir, `sentinel-${port}.conf`);
            writeFileSync(
              file,
              [
                `port ${port}`,
                'bind 127.0.0.1',
                'protected-mode no',
                `dir ${t.dir}`,
                `sentinel monitor ${t.name} 127.0.0.1 ${t.primary.port} 2`,
                `sentinel down-after-milliseconds ${t.name} 1000`,
                `sentinel failover-timeout ${t.name} 5000`,
                `sentinel parallel-syncs ${t.name} 1`,
                '',
              ].join('\n'),
            );
            return [file, '--sentinel'];
          }),
        );
      }
      // Every sentinel has found the replica (through the primary) and the other sentinels.
      await eventually(async () => {
        for (const s of t.sentinels) {
          const replicas = (await ask(s.port, (r) => r.call('SENTINEL', 'REPLICAS', t.name))) as unknown[];
          const others = (await ask(s.port, (r) => r.call('SENTINEL', 'SENTINELS', t.name))) as unknown[];
          if (replicas.length < 1 || others.length < 2) return false;
        }
        return true;
      });
      return t;
    } catch (err) {
      await t.stop();
      throw err;
    }
  }

  get env(): Record<string, string> {
    return {
      REDIS_SENTINELS: this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: this.name,
    };
  }

  /** The port the sentinels name as primary now. */
  async primaryPort(): Promise<number> {
    for (const s of this.sentinels) {
      if (s.child.exitCode !== null) continue;
      const addr = (await ask(s.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name))) as string[];
      return Number(addr[1]);
    }
    throw new Error('no sentinel answers');
  }

  /** How many replicas the current primary counts as connected. */
  async connectedReplicas(): Promise<number> {
    const info = await ask(await this.primaryPort(), (r) => r.info('replication'));
    return Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? -1);
  }

  /** Kills the current primary; resolves once the sentinels name another one. */
  async failOver(): Promise<number> {
    const before = await this.primaryPort();
    const node = this.nodes.find((n) => n.port === before)!;
    await this.killNode(node);
    await eventually(async () => (await this.primaryPort()) !== before, 300, 100);
    return this.primaryPort();
  }
}

export class ClusterTopology extends Topology {
  static async start(): Promise<ClusterTopology> {
    const t = new ClusterTopology();
    try {
      for (let i = 0; i < 6; i++) {
        await t.spawnNode((port) => [
          '--port',
          String(port),
          ...QUIET,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '1000',
        ]);
      }
      const create = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...t.nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await eventually(async () => {
        for (const n of t.nodes) {
          if (!/cluster_state:ok/.test(String(await ask(n.port, (r) => r.cluster('INFO'))))) return false;
        }
        return (await t.primaryPorts()).length === 3;
      });
      return t;
    } catch (err) {
      await t.stop();
      throw err;
    }
  }

  get env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',') };
  }

  /** The ports of the live primaries that hold slots. */
  async primaryPorts(): Promise<number[]> {
    const live = this.nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null)!;
    const text = String(await ask(live.port, (r) => r.cluster('NODES')));
    return text
      .split('\n')
      .filter((l) => /\bmaster\b/.test(l) && !/\bfail\b/.test(l) && l.trim().split(' ').length > 8)
      .map((l) => Number(/:(\d+)@/.exec(l)![1]));
  }

  /** Kills the primary on `port`; resolves once its replica holds its slots and the cluster is ok again. */
  async failOver(port: number): Promise<void> {
    await this.killNode(this.nodes.find((n) => n.port === port)!);
    await eventually(
      async () => {
        const primaries = await this.primaryPorts();
        if (primaries.includes(port) || primaries.length < 3) return false;
        const live = this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
        for (const n of live) {
          if (!/cluster_state:ok/.test(String(await ask(n.port, (r) => r.cluster('INFO'))))) return false;
        }
        return true;
      },
      300,
      100,
    );
  }
}

/**
 * The environment of a server process in a failover scenario (the topology e2e tests and `bench/redisFailover`):
 * the topology's Redis, a Kit sandbox at 20 calls per 2 s of which the servers take 16 (the headroom covers a
 * CPU-starved machine's timer lateness), and one push receiver of security events.
 */
export function failoverServerEnv(o: {
  redisEnv: Record<string, string>;
  kit: { url: string; apiKey: string };
  scimToken: string;
  push: { token: string; url: string };
}): Record<string, string> {
  return {
    ...o.redisEnv,
    PUBLIC_BASE_URL: 'https://scim.example',
    SCIM_EVENTS_RECEIVERS: `iga=${o.push.token}@https://iga.example/push`,
    SCIM_EVENTS_PUSH: `iga=${o.push.url}`,
    KIT_API_URL: o.kit.url,
    KIT_API_KEY: o.kit.apiKey,
    SCIM_BEARER_TOKENS: `iga=${o.scimToken}`,
    KIT_RATE_LIMIT_PER_MINUTE: '16',
    KIT_RATE_WINDOW_MS: '2000',
    REDIS_PROBE_INTERVAL_MS: '200',
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'info',
  };
}
