import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisJournal } from '../../src/scim/journal/redisJournal';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';

// Two replicas on one Redis (one Kit account): a deactivation made on one while Redis does not answer (SIGSTOP)
// keeps its journal entry in that replica's spool (the spool directory set) and its meta.lastModified in Kit
// too, so the other replica, reading it before the spool reaches Redis, neither records a change of its own
// nor answers another time; a change past the spool's bound is counted and audited.

const IGA_TOKEN = 'iga-journal-token-0123456789abcdef0123456789ab';

(hasRedisServer ? describe : describe.skip)('the change journal of replicas while Redis is away', () => {
  let redis: PrivateRedis;
  let a: Harness;
  let b: Harness;
  let auditFile: string;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    const dir = mkdtempSync(join(tmpdir(), 'scim-journal-replicas-'));
    auditFile = join(dir, 'audit.jsonl');
    const env = (spoolDir: string) => ({
      REDIS_URL: redis.url,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      KIT_WEBHOOKS: 'off',
      SCIM_EVENTS_RECEIVERS: `iga=${IGA_TOKEN}@https://iga.example/journal`,
      SCIM_EVENTS_SPOOL_DIR: spoolDir,
      SCIM_EVENTS_SPOOL_MAX: '2',
    });
    const port = await freePort();
    a = await startHarness({ env: { ...env(mkdtempSync(join(dir, 'a-'))), AUDIT_LOG: auditFile } });
    b = await startHarness({ env: env(mkdtempSync(join(dir, 'b-'))), kitSandbox: a.sandbox });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  const lastModified = async (h: Harness, id: string) =>
    (await h.get(`/scim/v2/Users/${id}`).expect(200)).body.meta.lastModified as string;

  it('a deactivation during the pause: its stamp in Kit, so the other replica takes it for the server’s own before the spool moves', async () => {
    const id = (await a.post('/scim/v2/Users', oktaUser(`jr.${unique()}@example.com`)).expect(201)).body.id as string;
    const created = await lastModified(b, id);
    await new Promise((r) => setTimeout(r, 5)); // two writes in one millisecond would share a lastModified
    const writer = a.service.scim().tracking.journal as RedisJournal;
    const reader = b.service.scim().tracking.journal as RedisJournal;

    redis.pause();
    let answered: string;
    let updates: number;
    try {
      const { result, byEndpoint } = await a.kitCalls(() =>
        a.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200),
      );
      answered = result.body.meta.lastModified as string;
      updates = Object.entries(byEndpoint)
        .filter(([endpoint]) => endpoint.startsWith('PUT '))
        .reduce((n, [, count]) => n + count, 0);
      expect(await lastModified(a, id)).toBe(answered);
      // The writer's spool is held: the other replica reads while the entry has not reached Redis.
      writer.close();
      expect(writer.spooled).toBe(1);
    } finally {
      redis.resume();
    }
    // The journal could not keep it in Redis: the time went into Kit too (one update before the unsubscribe).
    expect(updates).toBe(1);
    expect(Date.parse(answered)).toBeGreaterThan(Date.parse(created));
    await eventually(async () => (await reader.lastState(Number(id))) === 'active', 600, 50);

    expect(await lastModified(b, id)).toBe(answered);
    const learned = async () => (await reader.read(0, 10_000)).filter((c) => c.subscriberId === Number(id));
    expect((await learned()).map((c) => c.source)).toEqual(['scim']);
    expect(await reader.lastState(Number(id))).toBe('active');

    await writer.drain();
    expect((await learned()).map((c) => [c.source, c.kind, c.state])).toEqual([
      ['scim', 'created', 'active'],
      ['scim', 'deactivated', 'inactive'],
    ]);
    expect(await lastModified(b, id)).toBe(answered);
    expect((await learned()).length).toBe(2);
  });

  it('past the bound: each lost change counted and audited', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await a.post('/scim/v2/Users', oktaUser(`jl.${unique()}@example.com`)).expect(201)).body.id as string);
    redis.pause();
    try {
      for (const id of ids)
        await a.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200);
    } finally {
      redis.resume();
    }
    const metrics = await a.service.metrics.registry.metrics();
    const lost = Number(/scim_journal_lost_total(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(lost).toBeGreaterThan(0);
    const audited = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"journalEntryLost"'))
      .map((line) => (JSON.parse(line) as { resourceId: string }).resourceId);
    expect(audited).toHaveLength(lost);
    expect(new Set(audited).size).toBeGreaterThan(0);
    for (const id of audited) expect(ids).toContain(id);
  });
});
