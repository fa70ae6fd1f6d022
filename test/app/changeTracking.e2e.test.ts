import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { eventually, hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { freePort } from '../support/serverProcess';
import { unique } from '../support/unique';

// Two replicas on one Redis (one Kit account): a deactivation made on one while Redis does not answer (SIGSTOP)
// keeps its meta.lastModified in the journal's spool (the spool directory set), answered by that replica at
// once and by the other once Redis returns; a change past the spool's bound is counted and audited.

const IGA_TOKEN = 'iga-journal-token-0123456789abcdef0123456789ab';

(hasRedisServer ? describe : describe.skip)('the change journal of replicas while Redis is away', () => {
  let redis: PrivateRedis;
  let a: Harness;
  let b: Harness;
  let auditFile: string;
  let spoolA: string;

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
    spoolA = mkdtempSync(join(dir, 'a-'));
    a = await startHarness({ env: { ...env(spoolA), AUDIT_LOG: auditFile } });
    b = await startHarness({ env: env(mkdtempSync(join(dir, 'b-'))), kitSandbox: a.sandbox });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  const lastModified = async (h: Harness, id: string) =>
    (await h.get(`/scim/v2/Users/${id}`).expect(200)).body.meta.lastModified as string;

  it('a deactivation during the pause: its lastModified on the writing replica at once, on the other after', async () => {
    const id = (await a.post('/scim/v2/Users', oktaUser(`jr.${unique()}@example.com`)).expect(201)).body.id as string;
    const created = await lastModified(b, id);
    await new Promise((r) => setTimeout(r, 5)); // two writes in one millisecond would share a lastModified

    redis.pause();
    let answered: string;
    let updates: number;
    try {
      const { result, byEndpoint } = await a.kitCalls(() =>
        a.patch(`/scim/v2/Users/${id}`, patch({ op: 'replace', path: 'active', value: false })).expect(200),
      );
      answered = result.body.meta.lastModified as string;
      // The journal kept the time: no stamp written into Kit for it.
      updates = Object.entries(byEndpoint)
        .filter(([endpoint]) => endpoint.startsWith('PUT '))
        .reduce((n, [, count]) => n + count, 0);
      expect(await lastModified(a, id)).toBe(answered);
    } finally {
      redis.resume();
    }
    expect(updates).toBe(0);
    expect(Date.parse(answered)).toBeGreaterThan(Date.parse(created));
    // Read on the other replica once the writer's spool has moved into Redis. Before that, a read there sees the
    // subscriber inactive in Kit with no journal entry for it and records a change of its own (a known race,
    // docs/security-events.md "What it cannot do").
    const spooled = () =>
      readdirSync(spoolA)
        .filter((f) => f.endsWith('journal-spool.jsonl'))
        .some((f) => readFileSync(join(spoolA, f), 'utf8').trim() !== '');
    await eventually(() => !spooled(), 600, 100);
    expect(await lastModified(b, id)).toBe(answered);
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
