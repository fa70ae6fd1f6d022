import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { redisAnswers } from './redisPing';
import { freePort } from './serverProcess';

// A redis-server of the test's own on a free port, to pause (SIGSTOP), kill, restart empty and flush without
// disturbing the shared Redis other suites use.

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export class PrivateRedis {
  private child?: ChildProcess;
  private constructor(readonly port: number) {}

  /**
   * On a free port. redis-server cannot pick one itself (--port 0 turns TCP off), so a port found free here can
   * be taken by another process before redis-server binds it: then it exits at once, and a new port is tried
   * (a few times; a redis-server that fails for any other reason fails the same way every time).
   */
  static async start(): Promise<PrivateRedis> {
    for (let attempt = 1; ; attempt++) {
      const r = new PrivateRedis(await freePort());
      try {
        await r.startProcess();
        return r;
      } catch (e) {
        await r.kill();
        if (!(e instanceof PortTakenError) || attempt >= 5) throw e;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGSTOP: the connection stays open and nothing answers, like a Redis stuck in a long fork. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** A new, empty redis-server on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }

  async command<T>(run: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {}); // a refused connection while the server starts is answered by the caller's retry
    try {
      return await run(r);
    } finally {
      r.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
  }

  private async startProcess(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.child = child;
    let log = '';
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
    });
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(this.url)) return;
      if (child.exitCode !== null) {
        if (/address already in use/i.test(log)) throw new PortTakenError(this.port);
        throw new Error(`redis-server exited with ${child.exitCode} on port ${this.port}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }
}

class PortTakenError extends Error {
  constructor(port: number) {
    super(`port ${port} was taken before redis-server could bind it`);
  }
}

/** Polls `check` until it holds, or fails after `attempts` × `everyMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, attempts = 300, everyMs = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not met in time');
}
