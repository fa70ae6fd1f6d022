import { redisFingerprint } from './redisFingerprint';

export default async function globalTeardown(): Promise<void> {
  const pid = (globalThis as any).__REDIS_PID__ as number | undefined;
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const before = ((globalThis as any).__DEVELOPER_REDIS__ ?? {}) as Record<string, { keys: number; digest: string }>;
  const changed: string[] = [];
  for (const [url, print] of Object.entries(before)) {
    const after = await redisFingerprint(url).catch(() => undefined);
    if (after && after.digest !== print.digest) changed.push(`${url} (${print.keys} keys before, ${after.keys} after)`);
  }
  if (changed.length === 0) return;
  const message = `the data in a Redis the tests do not own changed during the run: ${changed.join(', ')}`;
  // In CI nothing else uses that Redis, so a change can only be the suite's. On a developer's machine their own
  // server may be writing to it at the same time.
  if (process.env.REQUIRE_REDIS === '1') throw new Error(message);
  console.warn(`\n!!! ${message} (if a server of yours was running against it, that is why) !!!\n`);
}
