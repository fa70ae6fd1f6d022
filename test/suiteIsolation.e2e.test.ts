import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { developerRedisUrls } from './support/redisGlobalSetup';
import { redisFingerprint } from './support/redisFingerprint';
import { hasRedisServer, PrivateRedis } from './support/privateRedis';

// The suite must leave a developer's Redis alone: whatever REDIS_URL names for `npm start`, and 127.0.0.1:6379.

const describeWithBinary = hasRedisServer ? describe : describe.skip;

describeWithBinary('the test suite and a Redis it does not own', () => {
  let developers: PrivateRedis;

  beforeAll(async () => {
    developers = await PrivateRedis.start();
    await developers.command(async (r) => {
      await r.set('app:session:42', 'kept');
      await r.hset('app:profile:7', { name: 'Ada', plan: 'pro' });
      await r.zadd('app:queue', 1, 'a', 2, 'b');
      await r.set('app:lease', 'mine', 'PX', 600000);
    });
  });

  afterAll(async () => {
    await developers?.stop();
  });

  it('is never the Redis this run writes to', () => {
    const ours = process.env.REDIS_URL;
    expect(ours).toBeTruthy();
    for (const url of developerRedisUrls({ REDIS_URL: developers.url })) expect(ours).not.toBe(url);
  });

  it('a fingerprint moves when a value, a key or an expiry changes', async () => {
    const before = await redisFingerprint(developers.url);
    await developers.command((r) => r.set('app:probe', '1'));
    const added = await redisFingerprint(developers.url);
    await developers.command((r) => r.del('app:probe'));
    const removed = await redisFingerprint(developers.url);
    await developers.command((r) => r.persist('app:lease'));
    const persisted = await redisFingerprint(developers.url);
    await developers.command((r) => r.pexpire('app:lease', 600000));

    expect(added!.digest).not.toBe(before!.digest);
    expect(removed!.digest).toBe(before!.digest);
    expect(persisted!.digest).not.toBe(before!.digest);
    expect(await redisFingerprint(developers.url)).toEqual(before);
  });

  it('a run of Redis suites with REDIS_URL naming the developer’s Redis leaves its data unchanged', async () => {
    const before = await redisFingerprint(developers.url);
    const root = path.resolve(__dirname, '..');
    const run = spawnSync(
      process.execPath,
      [
        require.resolve('jest/bin/jest'),
        '--selectProjects',
        'e2e',
        '-w',
        '1',
        'test/events/redisOutbox.e2e.test.ts',
        'test/scim/paging/redisPageStore.e2e.test.ts',
      ],
      {
        cwd: root,
        env: { ...process.env, REDIS_URL: developers.url, TEST_REDIS_URL: '', REQUIRE_REDIS: '1', CI: 'true' },
        encoding: 'utf8',
        timeout: 180000,
      },
    );
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output).toMatch(/Tests:\s+\d+ passed/);
    expect(output).not.toMatch(/skipped/);
    expect(run.status).toBe(0);
    expect(await redisFingerprint(developers.url)).toEqual(before);
  }, 200000);
});
