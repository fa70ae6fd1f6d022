import { RedisLink } from '../../src/platform/redisLink';
import { freePort } from '../support/serverProcess';

/**
 * Tracks the timers code sets through the global setTimeout (ioredis does) while `fn` runs, and returns those
 * still pending and keeping the process alive afterwards.
 */
async function timersLeftBy(fn: () => Promise<void>): Promise<string[]> {
  const realSet = global.setTimeout;
  const realClear = global.clearTimeout;
  const pending = new Map<NodeJS.Timeout, string>();
  global.setTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const where = new Error().stack?.split('\n')[2]?.trim() ?? '?';
    const t = realSet(() => {
      pending.delete(t);
      cb(...args);
    }, ms);
    pending.set(t, `${ms} ms ${where}`);
    return t;
  }) as typeof setTimeout;
  global.clearTimeout = ((t: NodeJS.Timeout) => {
    pending.delete(t);
    realClear(t);
  }) as typeof clearTimeout;
  try {
    await fn();
    // Timers due "now" (0 ms) are not left behind: let them fire.
    await new Promise((resolve) => realSet(resolve, 5));
  } finally {
    global.setTimeout = realSet;
    global.clearTimeout = realClear;
  }
  return [...pending].filter(([t]) => t.hasRef()).map(([, where]) => where);
}

describe('RedisLink.close', () => {
  it('leaves no timer behind when Redis never answered, so a closed process can exit at once', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const left = await timersLeftBy(async () => {
      const link = new RedisLink({ url });
      // Let ioredis meet the refused connection (and arm its reconnect) before closing.
      await new Promise<void>((resolve) => link.client.once('close', () => resolve()));
      expect(link.healthy).toBe(false);
      await link.close();
    });
    expect(left).toEqual([]);
  });
});
