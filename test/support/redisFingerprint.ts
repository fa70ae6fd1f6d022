import { createHash } from 'node:crypto';
import Redis from 'ioredis';

/** At most this many keys are read into a fingerprint; a larger keyspace is fingerprinted by its size and first keys. */
const MAX_KEYS = 20000;

/**
 * A digest of everything a Redis holds (every key's name, serialised value and TTL class), read with SCAN, DUMP and
 * PTTL only: commands that change nothing. Used to prove that a test run left a Redis it does not own as it found it.
 * Undefined when nothing answers at `url`.
 */
export async function redisFingerprint(url: string): Promise<{ keys: number; digest: string } | undefined> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => {});
  try {
    await r.connect();
  } catch {
    r.disconnect();
    return undefined;
  }
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0' && keys.length < MAX_KEYS);
    keys.sort();
    const hash = createHash('sha256');
    hash.update(String(await r.dbsize()));
    for (const key of keys.slice(0, MAX_KEYS)) {
      const [dump, ttl] = await Promise.all([r.dumpBuffer(key), r.pttl(key)]);
      // Only whether a key expires, not how long it has left: the remaining time moves on its own.
      hash
        .update(key)
        .update(dump ?? Buffer.alloc(0))
        .update(ttl < 0 ? String(ttl) : 'expires');
    }
    return { keys: keys.length, digest: hash.digest('hex') };
  } finally {
    r.disconnect();
  }
}
