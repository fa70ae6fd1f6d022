/** The Redis URL the global setup found or started; undefined only on a machine with no Redis at all. */
export const redisUrl: string | undefined = process.env.REDIS_URL || undefined;

/** `describeRedis(...)` runs a suite against real Redis, and is skipped (loudly, by the global setup) without it. */
export const describeRedis: jest.Describe = redisUrl ? describe : describe.skip;
