import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import { type KitSandbox, type SandboxAccount, startKitSandbox } from '../src';
import { adminHttp, manualClock } from './sandboxHttp';

// Several Kit accounts on one sandbox: one base URL, the credential picks the account, and each
// account has its own data, rolling rate window per key, call log and revocable keys.

const v4 = (sandbox: KitSandbox, apiKey: string) =>
  axios.create({
    baseURL: sandbox.url,
    headers: { 'X-Kit-Api-Key': apiKey },
    validateStatus: () => true,
    proxy: false,
  });
const v3 = (sandbox: KitSandbox) => axios.create({ baseURL: sandbox.url, validateStatus: () => true, proxy: false });

describe('accounts hosted by one sandbox', () => {
  const clock = manualClock();
  let sandbox: KitSandbox;
  let a: SandboxAccount;
  let b: SandboxAccount;
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 60_000 }, now: clock.now });
    a = sandbox.createAccount();
    b = sandbox.createAccount({ apiKey: 'kit_tenant_b', apiSecret: 'kit_secret_tenant_b' });
  });
  afterAll(() => sandbox.close());

  it('issues each account its own key and secret, and lists the default account first', () => {
    expect(b.apiKey).toBe('kit_tenant_b');
    expect(b.apiSecret).toBe('kit_secret_tenant_b');
    expect(a.apiKey).toMatch(/^kit_sandbox_[0-9a-f]{32}$/);
    expect(a.apiSecret).toMatch(/^kit_secret_[0-9a-f]{32}$/);
    expect(new Set([sandbox.apiKey, a.apiKey, b.apiKey]).size).toBe(3);
    expect(sandbox.accounts().map((x) => x.id)).toEqual([sandbox.defaultAccount.id, a.id, b.id]);
    expect(sandbox.defaultAccount.apiKey).toBe(sandbox.apiKey);
    expect(sandbox.defaultAccount.store).toBe(sandbox.store);
  });

  it('refuses a key or secret already in use', () => {
    expect(() => sandbox.createAccount({ apiKey: b.apiKey })).toThrow(/already in use/);
    expect(() => sandbox.createAccount({ apiKey: sandbox.apiSecret })).toThrow(/already in use/);
    expect(sandbox.accounts()).toHaveLength(3);
  });

  it('answers GET /v4/account with the account the key belongs to', async () => {
    const ofA = (await v4(sandbox, a.apiKey).get('/v4/account')).data.account;
    const ofB = (await v4(sandbox, b.apiKey).get('/v4/account')).data.account;
    const ofDefault = (await v4(sandbox, sandbox.apiKey).get('/v4/account')).data.account;
    expect(ofA.id).toBe(a.id);
    expect(ofB.id).toBe(b.id);
    expect(ofDefault.id).toBe(sandbox.defaultAccount.id);
    expect(new Set([ofA.name, ofB.name, ofDefault.name]).size).toBe(3);
  });

  it('keeps subscribers, tags and custom fields apart', async () => {
    const httpA = v4(sandbox, a.apiKey);
    const httpB = v4(sandbox, b.apiKey);
    expect((await httpA.post('/v4/custom_fields', { label: 'Department' })).status).toBe(201);
    expect((await httpA.post('/v4/tags', { name: 'Engineering' })).status).toBe(201);
    expect((await httpA.post('/v4/subscribers', { email_address: 'only-a@example.com' })).status).toBe(201);

    const inB = await httpB.get('/v4/subscribers', { params: { email_address: 'only-a@example.com' } });
    expect(inB.status).toBe(200);
    expect(inB.data.subscribers).toEqual([]);
    expect((await httpB.get('/v4/tags')).data.tags).toEqual([]);
    expect((await httpB.get('/v4/custom_fields')).data.custom_fields).toEqual([]);
    expect(b.store.findTagByName('Engineering')).toBeUndefined();
    expect(sandbox.store.findByEmail('only-a@example.com')).toBeUndefined();

    // The same tag name is free in B: tag names are unique per account only.
    expect((await httpB.post('/v4/tags', { name: 'Engineering' })).status).toBe(201);
    expect(a.store.listTags().map((t) => t.name)).toEqual(['Engineering']);
    expect(b.store.listTags().map((t) => t.name)).toEqual(['Engineering']);
    expect(a.store.counts()).toMatchObject({ subscribers: 1, tags: 1, customFields: 1 });
    expect(b.store.counts()).toMatchObject({ subscribers: 0, tags: 1, customFields: 0 });
  });

  it('upserts the same email in two accounts as two independent subscribers', async () => {
    const email = 'both@example.com';
    const inA = await v4(sandbox, a.apiKey).post('/v4/subscribers', { email_address: email, first_name: 'Ada' });
    const inB = await v4(sandbox, b.apiKey).post('/v4/subscribers', { email_address: email, first_name: 'Bea' });
    expect(inA.status).toBe(201);
    expect(inB.status).toBe(201);
    await v4(sandbox, b.apiKey).post(`/v4/subscribers/${inB.data.subscriber.id}/unsubscribe`);
    expect(a.store.findByEmail(email)).toMatchObject({ first_name: 'Ada', state: 'active' });
    expect(b.store.findByEmail(email)).toMatchObject({ first_name: 'Bea', state: 'inactive' });
  });

  it('serves v3 by the account of the api_secret (and of the api_key where v3 takes one)', async () => {
    b.store.addSubscriber({ email_address: 'v3-b@example.com' });
    a.store.addSubscriber({ email_address: 'v3-a@example.com' });
    const listed = await v3(sandbox).get('/v3/subscribers', { params: { api_secret: b.apiSecret } });
    expect(listed.status).toBe(200);
    const emails = listed.data.subscribers.map((s: { email_address: string }) => s.email_address);
    expect(emails).toContain('v3-b@example.com');
    expect(emails).not.toContain('v3-a@example.com');
    expect(emails).not.toContain('only-a@example.com');

    const tag = await v3(sandbox).post('/v3/tags', { api_secret: b.apiSecret, tag: { name: 'Made through v3' } });
    expect(tag.status).toBe(201);
    expect(b.store.findTagByName('Made through v3')).toBeDefined();
    expect(a.store.findTagByName('Made through v3')).toBeUndefined();
    expect(sandbox.store.findTagByName('Made through v3')).toBeUndefined();

    const tags = await v3(sandbox).get('/v3/tags', { params: { api_key: b.apiKey } });
    expect(tags.data.tags.map((t: { name: string }) => t.name)).toContain('Made through v3');
  });

  it('logs each account’s calls in its own call log', async () => {
    a.resetCalls();
    b.resetCalls();
    sandbox.resetCalls();
    await v4(sandbox, a.apiKey).get('/v4/tags');
    await v4(sandbox, a.apiKey).get('/v4/tags');
    await v3(sandbox).get('/v3/account', { params: { api_secret: b.apiSecret } });
    expect(a.calls().byEndpoint).toEqual({ 'GET /v4/tags': 2 });
    expect(b.calls().byEndpoint).toEqual({ 'GET /v3/account': 1 });
    expect(sandbox.calls().total).toBe(0);
  });
});

describe('rate window per key', () => {
  it('answers 429 with Retry-After to the key that used up its window while another account’s key goes on', async () => {
    const clock = manualClock();
    const sandbox = await startKitSandbox({ now: clock.now });
    try {
      const a = sandbox.createAccount({ rateLimit: { max: 3, windowMs: 10_000 } });
      const b = sandbox.createAccount({ rateLimit: { max: 3, windowMs: 10_000 } });
      for (let i = 0; i < 3; i++) expect((await v4(sandbox, a.apiKey).get('/v4/subscribers')).status).toBe(200);
      const limited = await v4(sandbox, a.apiKey).get('/v4/subscribers');
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('10');
      expect(limited.data.errors[0]).toMatch(/^Rate limit exceeded/);

      expect((await v4(sandbox, b.apiKey).get('/v4/subscribers')).status).toBe(200);
      expect((await v4(sandbox, sandbox.apiKey).get('/v4/subscribers')).status).toBe(200);
      // A's v3 secret is another key with its own window.
      expect((await v3(sandbox).get('/v3/account', { params: { api_secret: a.apiSecret } })).status).toBe(200);
      expect(a.calls().rateLimited).toBe(1);
      expect(b.calls().rateLimited).toBe(0);

      clock.advance(10_000);
      expect((await v4(sandbox, a.apiKey).get('/v4/subscribers')).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('gives an added account the sandbox’s rate limit unless told otherwise, and setRateLimit is per account', async () => {
    const clock = manualClock();
    const sandbox = await startKitSandbox({ rateLimit: { max: 2, windowMs: 1_000 }, now: clock.now });
    try {
      const a = sandbox.createAccount();
      const b = sandbox.createAccount();
      b.setRateLimit({ max: 1, windowMs: 1_000 });
      const statuses = async (apiKey: string) => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++) out.push((await v4(sandbox, apiKey).get('/v4/tags')).status);
        return out;
      };
      expect(await statuses(a.apiKey)).toEqual([200, 200, 429]);
      expect(await statuses(b.apiKey)).toEqual([200, 429, 429]);
      expect(await statuses(sandbox.apiKey)).toEqual([200, 200, 429]);
    } finally {
      await sandbox.close();
    }
  });
});

describe('revoked keys', () => {
  let sandbox: KitSandbox;
  beforeEach(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 60_000 } });
  });
  afterEach(() => sandbox.close());

  it('answer exactly as an unknown key, on v4 and v3, while the other account keeps working', async () => {
    const a = sandbox.createAccount();
    const b = sandbox.createAccount();
    const unknownV4 = await v4(sandbox, 'kit_never_issued').get('/v4/subscribers');
    const unknownV3 = await v3(sandbox).get('/v3/subscribers', { params: { api_secret: 'kit_never_issued' } });
    expect(unknownV4.status).toBe(401);
    expect(unknownV3.status).toBe(401);

    a.revoke();
    for (const path of ['/v4/account', '/v4/subscribers', '/v4/tags', '/v4/custom_fields', '/v4/webhooks']) {
      const res = await v4(sandbox, a.apiKey).get(path);
      expect(res.status).toBe(401);
      expect(res.data).toEqual(unknownV4.data);
    }
    expect((await v4(sandbox, a.apiKey).post('/v4/subscribers', { email_address: 'x@example.com' })).status).toBe(401);
    const bySecret = await v3(sandbox).get('/v3/subscribers', { params: { api_secret: a.apiSecret } });
    expect(bySecret.status).toBe(401);
    expect(bySecret.data).toEqual(unknownV3.data);
    expect((await v3(sandbox).get('/v3/tags', { params: { api_key: a.apiKey } })).status).toBe(401);
    expect(a.store.counts().subscribers).toBe(0);
    // The refused calls are charged to the account the key was issued to.
    expect(a.calls().byStatus['401']).toBe(8);

    expect((await v4(sandbox, b.apiKey).get('/v4/subscribers')).status).toBe(200);
    expect((await v3(sandbox).get('/v3/account', { params: { api_secret: b.apiSecret } })).status).toBe(200);
    expect((await v4(sandbox, sandbox.apiKey).get('/v4/subscribers')).status).toBe(200);

    a.restore();
    expect((await v4(sandbox, a.apiKey).get('/v4/subscribers')).status).toBe(200);
    expect((await v3(sandbox).get('/v3/account', { params: { api_secret: a.apiSecret } })).status).toBe(200);
  });

  it('revokeKey takes one credential: the key alone leaves the v3 secret working, and the default key works too', async () => {
    const a = sandbox.createAccount();
    sandbox.revokeKey(a.apiKey);
    expect((await v4(sandbox, a.apiKey).get('/v4/tags')).status).toBe(401);
    expect((await v3(sandbox).get('/v3/account', { params: { api_secret: a.apiSecret } })).status).toBe(200);

    sandbox.revokeKey(sandbox.apiKey);
    expect((await v4(sandbox, sandbox.apiKey).get('/v4/tags')).status).toBe(401);
    expect((await v4(sandbox, a.apiKey).get('/v4/tags')).status).toBe(401);
    sandbox.restoreKey(sandbox.apiKey);
    expect((await v4(sandbox, sandbox.apiKey).get('/v4/tags')).status).toBe(200);
    expect(() => sandbox.revokeKey('kit_never_issued')).toThrow(/no account/);
  });
});

describe('admin routes for accounts', () => {
  let sandbox: KitSandbox;
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 60_000 } });
  });
  afterAll(() => sandbox.close());

  it('POST /__sandbox/accounts adds an account whose key works; a taken key is a 409', async () => {
    const admin = adminHttp(sandbox);
    const created = await admin.post('/accounts', { apiKey: 'kit_admin_made', rateLimit: { max: 5, windowMs: 1000 } });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      apiKey: 'kit_admin_made',
      apiSecret: expect.stringMatching(/^kit_secret_/),
      revoked: false,
      rateLimit: { max: 5, windowMs: 1000 },
    });
    const account = await v4(sandbox, 'kit_admin_made').get('/v4/account');
    expect(account.data.account.id).toBe(created.data.id);

    expect((await admin.post('/accounts', { apiKey: 'kit_admin_made' })).status).toBe(409);
    expect((await admin.post('/accounts', { apiKey: 7 })).status).toBe(400);
    expect((await admin.post('/accounts', { rateLimit: { max: 0, windowMs: 1 } })).status).toBe(400);
    const listed = await admin.get('/accounts');
    expect(listed.data.accounts.map((x: { apiKey: string }) => x.apiKey)).toEqual([sandbox.apiKey, 'kit_admin_made']);
  });

  it('seeds one account, reads its call log, and revokes and restores a key', async () => {
    const admin = adminHttp(sandbox);
    const { id, apiKey } = (await admin.post('/accounts', {})).data;
    const seeded = await admin.post(`/accounts/${id}/seed`, { subscribers: 3, tags: 1 });
    expect(seeded.status).toBe(201);
    expect(seeded.data.subscribers.count).toBe(3);
    expect((await v4(sandbox, apiKey).get('/v4/subscribers')).data.subscribers).toHaveLength(3);
    expect(sandbox.store.counts().subscribers).toBe(0);
    expect((await admin.get(`/accounts/${id}/calls`)).data.byEndpoint).toEqual({ 'GET /v4/subscribers': 1 });
    expect((await admin.get('/accounts/999/calls')).status).toBe(404);

    expect((await admin.put(`/revoked-keys/${apiKey}`)).status).toBe(204);
    expect((await v4(sandbox, apiKey).get('/v4/subscribers')).status).toBe(401);
    expect((await admin.get('/accounts')).data.accounts.find((x: { id: number }) => x.id === id).revoked).toBe(true);
    expect((await admin.delete(`/revoked-keys/${apiKey}`)).status).toBe(204);
    expect((await v4(sandbox, apiKey).get('/v4/subscribers')).status).toBe(200);
    expect((await admin.put('/revoked-keys/kit_never_issued')).status).toBe(404);
  });
});

describe('accounts in the data file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kit-sandbox-accounts-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps added accounts, their keys and their data across a restart', async () => {
    const dataFile = join(dir, 'kit.json');
    const first = await startKitSandbox({ dataFile });
    const added = first.createAccount({ apiKey: 'kit_kept', apiSecret: 'kit_secret_kept' });
    await v4(first, 'kit_kept').post('/v4/subscribers', { email_address: 'kept@example.com' });
    first.store.addSubscriber({ email_address: 'default@example.com' });
    await first.close();

    const second = await startKitSandbox({ dataFile });
    try {
      const restored = second.accounts().find((x) => x.apiKey === 'kit_kept');
      expect(restored).toMatchObject({ id: added.id, apiSecret: 'kit_secret_kept' });
      const listed = await v4(second, 'kit_kept').get('/v4/subscribers');
      expect(listed.data.subscribers.map((s: { email_address: string }) => s.email_address)).toEqual([
        'kept@example.com',
      ]);
      expect(second.store.findByEmail('default@example.com')).toBeDefined();
      expect(second.store.findByEmail('kept@example.com')).toBeUndefined();
      expect(second.createAccount().id).toBe(added.id + 1);
    } finally {
      await second.close();
    }
  });
});
