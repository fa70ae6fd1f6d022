import { spawn, spawnSync } from 'node:child_process';
import { redisAnswers as answers } from './redisPing';
import { freePort } from './serverProcess';

// Redis-backed suites read REDIS_URL. When nothing answers there and a redis-server binary exists, start a
// private one on a free port for this run. REQUIRE_REDIS=1 (set by .ci/run) turns "no Redis" into a failure.

export default async function globalSetup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await answers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  const hasBinary = spawnSync('redis-server', ['--version']).status === 0;
  if (hasBinary) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
        detached: true,
      },
    );
    (globalThis as any).__REDIS_CHILD__ = child;
    const privateUrl = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 50 && !(await answers(privateUrl)); i++) await new Promise((r) => setTimeout(r, 100));
    process.env.REDIS_URL = privateUrl;
    return;
  }
  if (process.env.REQUIRE_REDIS === '1')
    throw new Error(`REQUIRE_REDIS=1 but no Redis answers at ${url} and no redis-server binary exists`);
  process.env.REDIS_URL = '';
  console.warn(`\n!!! NO REDIS at ${url} and no redis-server binary: the Redis suites will be SKIPPED !!!\n`);
}
