import { spawn, spawnSync } from 'node:child_process';
import { redisFingerprint } from './redisFingerprint';
import { redisAnswers as answers } from './redisPing';
import { freePort } from './serverProcess';

// The e2e tier's Redis is always one the run owns: a private redis-server on a free port, started here and killed by
// the teardown. A Redis the developer runs (127.0.0.1:6379, or whatever REDIS_URL names for `npm start`) is never
// read or written by a test: its content is fingerprinted here, read-only, and compared by the teardown.
// TEST_REDIS_URL names a Redis the suite may own instead (every key in it may be written and flushed), for a
// machine with no redis-server binary. REQUIRE_REDIS=1 (set by .ci/run) turns "no Redis" into a failure.

/** Redis servers that belong to the developer, not to the run. */
export function developerRedisUrls(env: NodeJS.ProcessEnv = process.env): string[] {
  const urls = new Set(['redis://127.0.0.1:6379']);
  if (env.REDIS_URL && env.REDIS_URL !== env.TEST_REDIS_URL) urls.add(env.REDIS_URL);
  return [...urls];
}

async function startPrivateRedis(): Promise<{ url: string; pid: number } | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore', detached: true },
    );
    child.unref();
    const url = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      if (await answers(url)) return { url, pid: child.pid! };
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
  }
  throw new Error('could not start a private redis-server for the e2e tier');
}

export default async function globalSetup(): Promise<void> {
  const fingerprints: Record<string, { keys: number; digest: string }> = {};
  for (const url of developerRedisUrls()) {
    const print = await redisFingerprint(url).catch(() => undefined);
    if (print) fingerprints[url] = print;
  }
  (globalThis as any).__DEVELOPER_REDIS__ = fingerprints;

  const owned = process.env.TEST_REDIS_URL;
  if (owned) {
    if (!(await answers(owned))) throw new Error(`TEST_REDIS_URL is set but no Redis answers there`);
    process.env.REDIS_URL = owned;
    return;
  }
  const started = await startPrivateRedis();
  if (started) {
    (globalThis as any).__REDIS_PID__ = started.pid;
    process.env.REDIS_URL = started.url;
    return;
  }
  if (process.env.REQUIRE_REDIS === '1')
    throw new Error('REQUIRE_REDIS=1 but there is no redis-server binary to start and TEST_REDIS_URL is not set');
  process.env.REDIS_URL = '';
  console.warn(`\n!!! NO redis-server binary and no TEST_REDIS_URL: the Redis suites will be SKIPPED !!!\n`);
}
