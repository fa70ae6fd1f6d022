import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, secretsOf } from '../../src/config/environment';
import { runDoctor } from '../../src/app/doctorCommand';
import { createLogger } from '../../src/platform/logging';
import { type Harness, oktaUser, patch, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// What only Kit v3 accounts have: the api_secret as a parameter (never in a log, error, call record or audit
// entry), the truth in discovery, members that would be re-subscribed, and walks over page numbers. The flows
// both backends share are in users.okta/users.entra/groups (describe.each).

class MemoryStream extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk.toString());
    done();
  }
}

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

describe('Kit v3: the api_secret never leaves the adapter', () => {
  const logs = new MemoryStream();
  const dir = mkdtempSync(join(tmpdir(), 'kscim-v3-'));
  const auditFile = join(dir, 'audit.jsonl');
  let h: Harness;
  beforeAll(async () => {
    // No known secrets given to the logger: nothing may depend on the last masking pass to hide the secret.
    const logger = createLogger({ level: 'trace', format: 'json', knownSecrets: [] }, logs);
    h = await startHarness({ backend: 'v3', logger, env: { AUDIT_LOG: auditFile } });
  });
  afterAll(() => h.close());

  it('is absent from logs, audit entries, SCIM errors, metrics and the sandbox call log, failures included', async () => {
    const secret = h.sandbox.apiSecret;
    expect(secret.length).toBeGreaterThan(16);
    const bodies: string[] = [];
    const created = await h.post('/scim/v2/Users', oktaUser(`leak.${unique()}@example.com`));
    expect(created.status).toBe(201);
    bodies.push(JSON.stringify(created.body));
    // A Kit 500 that outlasts the retries, a dropped connection, and a refused credential.
    h.sandbox.setFaults({ failNext: 10, failStatus: 500, endpoints: ['GET /v3/subscribers/:id'] });
    const failed = await h.get(`/scim/v2/Users/${created.body.id}`);
    expect(failed.status).toBe(503);
    bodies.push(JSON.stringify(failed.body));
    h.sandbox.resetFaults();
    h.sandbox.setFaults({ dropRate: 1, endpoints: ['GET /v3/subscribers/:id'] });
    const dropped = await h.get(`/scim/v2/Users/${created.body.id}`);
    expect(dropped.status).toBe(503);
    bodies.push(JSON.stringify(dropped.body));
    h.sandbox.resetFaults();
    const deactivated = await h.patch(
      `/scim/v2/Users/${created.body.id}`,
      patch({ op: 'replace', path: 'active', value: false }),
    );
    expect(deactivated.status).toBe(200);
    bodies.push(JSON.stringify((await h.get('/metrics')).text));

    const calls = h.sandbox.calls().log;
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.some((c) => c.credential.startsWith('v3-secret:'))).toBe(true);
    expect(logs.chunks.length).toBeGreaterThan(5);
    const everything = [logs.chunks.join(''), readFileSync(auditFile, 'utf8'), JSON.stringify(calls), ...bodies];
    expect(readFileSync(auditFile, 'utf8')).toMatch(/PUT \/v3\/unsubscribe/);
    for (const text of everything) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(-12));
    }
  });

  it('is one of the secrets the log and audit masking know, and a v3 secret without v3 is refused at start', () => {
    const config = loadConfig({
      KIT_API_VERSION: 'v3',
      KIT_API_SECRET: 'kit_secret_0123456789abcdef0123456789',
      SCIM_BEARER_TOKENS: 'okta=0123456789abcdef0123456789abcdef',
    });
    expect(config.kit.credentials).toEqual({ kind: 'v3Secret', apiSecret: 'kit_secret_0123456789abcdef0123456789' });
    expect(secretsOf(config)).toContain('kit_secret_0123456789abcdef0123456789');
    expect(() => loadConfig({ KIT_API_SECRET: 'kit_secret_0123456789abcdef0123456789' })).toThrow(
      /KIT_API_SECRET: .*KIT_API_VERSION=v3/,
    );
    expect(() => loadConfig({ KIT_API_VERSION: 'v3', KIT_API_KEY: 'kit_0123456789abcdef' })).toThrow(/KIT_API_VERSION/);
    // And the message names the variables, never the value.
    try {
      loadConfig({ KIT_API_SECRET: 'kit_secret_should_not_be_echoed_123' });
    } catch (e) {
      expect((e as Error).message).not.toContain('should_not_be_echoed');
    }
  });
});

describe('Kit v3: doctor', () => {
  it('says it does not check v3 accounts yet, instead of calling the secret refused, and never shows it', async () => {
    const secret = 'kit_secret_doctor_0123456789abcdef';
    const report = await runDoctor({
      KIT_API_URL: 'http://127.0.0.1:9',
      KIT_API_VERSION: 'v3',
      KIT_API_SECRET: secret,
      SCIM_BEARER_TOKENS: 'okta=0123456789abcdef0123456789abcdef',
    });
    expect(report.ok).toBe(false);
    const config = report.checks.find((c) => c.id === 'config')!;
    expect(config).toMatchObject({ status: 'fail', result: expect.stringMatching(/Kit v3/) });
    expect(JSON.stringify(report)).not.toContain(secret);
  });
});

describe('Kit v3: what the SCIM layer says and refuses', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend: 'v3' });
  });
  afterAll(() => h.close());

  it('declares a group displayName immutable and sorting unsupported in discovery', async () => {
    const schema = await h.get(`/scim/v2/Schemas/${GROUP}`);
    expect(schema.status).toBe(200);
    expect(schema.body.attributes.find((a: any) => a.name === 'displayName').mutability).toBe('immutable');
    const spc = await h.get('/scim/v2/ServiceProviderConfig');
    expect(spc.body.sort.supported).toBe(false);
  });

  it('creates through the scim:users tag, which is never a group', async () => {
    const res = await h.post('/scim/v2/Users', oktaUser(`tagged.${unique()}@example.com`));
    expect(res.status).toBe(201);
    const usersTag = h.sandbox.store.findTagByName('scim:users')!;
    expect(h.sandbox.store.subscribersOfTag(usersTag.id)).toContain(Number(res.body.id));
    expect(res.body.groups ?? []).toEqual([]);
    expectScimError(await h.get(`/scim/v2/Groups/${usersTag.id}`), 404);
  });

  it('skips a group member who is not active instead of re-subscribing them through the tag', async () => {
    const [active, gone] = h.sandbox.store.seedSubscribers(2, { emailPrefix: `resub-${unique()}-` }).ids;
    h.sandbox.store.setState(gone, 'inactive');
    const { result, byEndpoint } = await h.kitCalls(() =>
      h.post('/scim/v2/Groups', {
        schemas: [GROUP],
        displayName: `Resub ${unique()}`,
        members: [{ value: String(active) }, { value: String(gone) }],
      }),
    );
    expect(result.status).toBe(201);
    expect(result.body.members.map((m: any) => Number(m.value))).toEqual([active]);
    expect(h.sandbox.store.getSubscriber(gone)!.state).toBe('inactive');
    expect(byEndpoint['POST /v3/tags/:tag_id/subscribe']).toBe(1);
  });

  it('deletes a user deactivated earlier (tombstone by field: the tag would re-subscribe them)', async () => {
    const email = `deact-del.${unique()}@example.com`;
    const created = await h.post('/scim/v2/Users', oktaUser(email));
    await h.patch(`/scim/v2/Users/${created.body.id}`, patch({ op: 'replace', path: 'active', value: false }));
    const { result, byEndpoint } = await h.kitCalls(() => h.del(`/scim/v2/Users/${created.body.id}`));
    expect(result.status).toBe(204);
    expect(byEndpoint['POST /v3/tags/:tag_id/subscribe']).toBeUndefined();
    expect(h.sandbox.store.getSubscriber(Number(created.body.id))!.state).toBe('inactive');
    expectScimError(await h.get(`/scim/v2/Users/${created.body.id}`), 404);
    const again = await h.post('/scim/v2/Users', oktaUser(email));
    expectScimError(again, 409, 'uniqueness');
    expect(again.body.detail).toMatch(/deleted/i);
  });

  it('deletes an active user: untag, tombstone tag while active, unsubscribe by email, tombstone field', async () => {
    const created = await h.post('/scim/v2/Users', oktaUser(`active-del.${unique()}@example.com`));
    const { result, byEndpoint } = await h.kitCalls(() => h.del(`/scim/v2/Users/${created.body.id}`));
    expect(result.status).toBe(204);
    expect(byEndpoint['POST /v3/tags/:tag_id/subscribe']).toBe(1);
    expect(byEndpoint['PUT /v3/unsubscribe']).toBe(1);
    const deletedTag = h.sandbox.store.findTagByName('scim:deleted-users')!;
    expect(h.sandbox.store.subscribersOfTag(deletedTag.id)).toContain(Number(created.body.id));
    expect(h.sandbox.store.getSubscriber(Number(created.body.id))!.state).toBe('inactive');
  });
});

describe('Kit v3: walks over page numbers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ backend: 'v3' });
  });
  afterAll(() => h.close());

  it('walks 1,234 users (30 unsubscribed) with one Kit call per 50, plus 2 for the exact total', async () => {
    const ids = h.sandbox.store.seedSubscribers(1234, { emailPrefix: 'walk-' }).ids;
    for (const id of ids.slice(0, 30)) h.sandbox.store.setState(id, 'inactive');
    const seen: string[] = [];
    const { total, byEndpoint } = await h.kitCalls(async () => {
      for (let start = 1; start <= 1234; start += 100) {
        const res = await h.get(`/scim/v2/Users?startIndex=${start}&count=100&excludedAttributes=groups`);
        expect(res.body.totalResults).toBe(1234);
        seen.push(...res.body.Resources.map((u: any) => u.id));
      }
    });
    expect(new Set(seen).size).toBe(1234);
    // 1,204 active in ceil(1204/50) = 25 pages, 30 unsubscribed in 1; the first page also asks the second list for
    // its total (1) and the tombstone tag for the deleted count (1).
    expect(byEndpoint['GET /v3/subscribers']).toBe(25 + 1 + 1);
    expect(byEndpoint['GET /v3/tags/:tag_id/subscriptions']).toBe(1);
    expect(total).toBe(28);
    // The walk is cached: walking it again costs nothing.
    const again = await h.kitCalls(() => h.get('/scim/v2/Users?startIndex=601&count=100&excludedAttributes=groups'));
    expect(expectListResponse(again.result).length).toBe(100);
    expect(again.total).toBe(0);
  });
});
