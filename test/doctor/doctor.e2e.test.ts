import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import { doctorCli, runDoctor } from '../../src/app/doctorCommand';
import type { CheckId, DoctorReport } from '../../src/doctor/doctor';
import { limiterIdFor } from '../../src/kit/limiter';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { type Harness, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';
import { redisUrl } from '../support/redis';
import { slotBookKeys } from '../../src/kit/slots';
import { freePort } from '../support/serverProcess';

// `convertkit-scim doctor` against the Kit sandbox over HTTP, real Redis, and a real running server.

const SCIM_TOKENS = { SCIM_BEARER_TOKENS: `okta=${TOKEN}`, SCIM_READONLY_BEARER_TOKENS: `iga=${READONLY_TOKEN}` };

function envFor(sandbox: KitSandbox, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    // Kit's 120 calls over 200 ms: the limiter still spaces every call, without making the tests wait.
    KIT_RATE_WINDOW_MS: '200',
    KIT_TIMEOUT_MS: '2000',
    ...SCIM_TOKENS,
    ...extra,
  };
}

const statusOf = (report: DoctorReport, id: CheckId) => report.checks.find((c) => c.id === id)!;

function expectNoSecrets(report: DoctorReport, secrets: string[]) {
  const text = JSON.stringify(report);
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('doctor', () => {
  let sandbox: KitSandbox;

  beforeEach(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
  });
  afterEach(async () => {
    await sandbox.close();
  });

  it('fails on an invalid configuration, names the variable (never its value) and runs nothing else', async () => {
    const report = await runDoctor(envFor(sandbox, { SCIM_BEARER_TOKENS: 'okta=short-secret-value' }));
    expect(report.ok).toBe(false);
    const config = statusOf(report, 'config');
    expect(config.status).toBe('fail');
    expect(config.result).toMatch(/SCIM_BEARER_TOKENS.*"okta".*at least 32/);
    expect(report.checks.filter((c) => c.id !== 'config').every((c) => c.status === 'skip')).toBe(true);
    expectNoSecrets(report, ['short-secret-value']);
    expect(sandbox.calls().total).toBe(0);
  });

  it('names a file-path setting whose path cannot be used, as start-up would, and runs nothing else', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-files-'));
    try {
      const missing = path.join(dir, 'nonexistent', 'a.log');
      const report = await runDoctor(envFor(sandbox, { AUDIT_LOG: missing, DATA_DIR: dir }));
      expect(statusOf(report, 'config')).toMatchObject({
        status: 'fail',
        result: `AUDIT_LOG: cannot open ${missing} for appending (its directory does not exist); name a writable file, or set AUDIT_LOG=stdout`,
      });
      const noData = await runDoctor(envFor(sandbox, { DATA_DIR: path.join(dir, 'data') }));
      expect(statusOf(noData, 'config').result).toMatch(
        /^DATA_DIR: cannot use .*data as the data directory \(it does not exist\)/,
      );
      expect(sandbox.calls().total).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails without Kit credentials where IdP credentials say deployment: the server would refuse to start', async () => {
    const report = await runDoctor({ ...SCIM_TOKENS });
    expect(statusOf(report, 'config')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/^KIT_API_KEY: no Kit credential is set, yet SCIM_BEARER_TOKENS.*KIT_SANDBOX=on/),
    });
    expect(report.ok).toBe(false);
  });

  it('names a rejected key with its fix, and skips what needs Kit', async () => {
    const report = await runDoctor(envFor(sandbox, { KIT_API_KEY: 'kit_0123456789abcdef0123456789abcdef' }));
    expect(report.ok).toBe(false);
    expect(statusOf(report, 'kitReachable').status).toBe('pass');
    expect(statusOf(report, 'kitCredential')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/rejected the credential \(HTTP 401\)/),
      fix: expect.stringMatching(/v4 API key/),
    });
    expect(statusOf(report, 'reservedFields').status).toBe('skip');
    expectNoSecrets(report, ['kit_0123456789abcdef0123456789abcdef', TOKEN, READONLY_TOKEN]);
  });

  it('names an unreachable Kit', async () => {
    const port = await freePort();
    const report = await runDoctor(envFor(sandbox, { KIT_API_URL: `http://127.0.0.1:${port}` }));
    expect(statusOf(report, 'kitReachable')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/KIT_API_URL/),
    });
    expect(statusOf(report, 'kitCredential').status).toBe('skip');
    expect(report.ok).toBe(false);
  });

  it('names reserved custom fields that are missing and cannot be created, with the fix', async () => {
    sandbox.store.createCustomField('scim_user_name');
    sandbox.setFaults({ failNext: 1000, failStatus: 422, endpoints: ['POST /v4/custom_fields'] });
    const report = await runDoctor(envFor(sandbox));
    const fields = statusOf(report, 'reservedFields');
    expect(fields.status).toBe('fail');
    expect(fields.result).toMatch(/could not be created: scim_family_name, .*scim_last_modified/);
    expect(fields.result).not.toMatch(/scim_user_name/);
    expect(fields.fix).toMatch(/Create these custom fields in Kit/);
    expect(report.ok).toBe(false);
  });

  it('creates missing reserved fields and tags as start-up would, then finds them present', async () => {
    const first = await runDoctor(envFor(sandbox));
    expect(first.ok).toBe(true);
    expect(statusOf(first, 'reservedFields').result).toMatch(/created the missing/);
    expect(statusOf(first, 'reservedTags').result).toMatch(/now created/);
    expect(sandbox.store.findTagByName('scim:deleted-users')).toBeTruthy();
    const second = await runDoctor(envFor(sandbox));
    expect(statusOf(second, 'reservedFields').result).toMatch(/^all 10 present/);
    expect(statusOf(second, 'reservedTags').result).toMatch(/present/);
  });

  it('fails on a GROUP_TAG_PREFIX that existing tags already use, and on one inside "scim:"', async () => {
    sandbox.store.createTag('idp:Newsletter');
    sandbox.store.createTag('Customers');
    const clash = await runDoctor(envFor(sandbox, { GROUP_TAG_PREFIX: 'idp:' }));
    expect(statusOf(clash, 'groupPrefix')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/1 existing tag\(s\) already start with "idp:".*"idp:Newsletter"/),
      fix: expect.stringMatching(/--existing-groups/),
    });
    expect(clash.ok).toBe(false);

    const accepted = await runDoctor(envFor(sandbox, { GROUP_TAG_PREFIX: 'idp:' }), { existingGroupsOk: true });
    expect(statusOf(accepted, 'groupPrefix').status).toBe('pass');
    const free = await runDoctor(envFor(sandbox, { GROUP_TAG_PREFIX: 'okta-group:' }));
    expect(statusOf(free, 'groupPrefix')).toMatchObject({
      status: 'pass',
      result: expect.stringMatching(/no existing/),
    });

    const reserved = await runDoctor(envFor(sandbox, { GROUP_TAG_PREFIX: 'scim:groups:' }));
    expect(statusOf(reserved, 'groupPrefix')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/reserved/),
    });
  });

  it('names Redis down with its fix, while the Kit checks still run', async () => {
    const port = await freePort();
    const report = await runDoctor(envFor(sandbox, { REDIS_URL: `redis://:s3cret-redis-pw@127.0.0.1:${port}` }), {
      redisWaitMs: 300,
    });
    expect(statusOf(report, 'redis')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${port} does not answer`)),
      fix: expect.stringMatching(/REDIS_URL/),
    });
    expect(statusOf(report, 'kitCredential').status).toBe('pass');
    expect(report.ok).toBe(false);
    expectNoSecrets(report, ['s3cret-redis-pw']);
  });

  it('names an unreachable PUBLIC_BASE_URL and a refused SCIM token', async () => {
    const port = await freePort();
    const report = await runDoctor(envFor(sandbox, { PUBLIC_BASE_URL: `http://127.0.0.1:${port}` }), {
      url: `http://127.0.0.1:${port}`,
    });
    expect(statusOf(report, 'publicUrl')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(statusOf(report, 'scimRoundTrip').status).toBe('fail');
    expect(report.ok).toBe(false);
  });

  it('checks the OAuth token store: writable passes, an unwritable path is named with its fix', async () => {
    const oauthKit = await startKitSandbox({
      oauth: {
        clientId: 'doctor-app',
        clientSecret: 'doctor-secret',
        accessToken: 'at-doctor-1',
        refreshToken: 'rt-doctor-1',
      },
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-'));
    try {
      const oauthEnv = (store: string) => ({
        KIT_API_URL: oauthKit.url,
        KIT_ACCESS_TOKEN: 'at-doctor-1',
        KIT_REFRESH_TOKEN: 'rt-doctor-1',
        KIT_CLIENT_ID: 'doctor-app',
        KIT_CLIENT_SECRET: 'doctor-secret',
        KIT_TOKEN_STORE: store,
        KIT_RATE_WINDOW_MS: '200',
        ...SCIM_TOKENS,
      });
      const good = await runDoctor(oauthEnv(path.join(dir, 'tokens.json')));
      expect(statusOf(good, 'tokenStore')).toMatchObject({
        status: 'pass',
        result: expect.stringMatching(/is writable/),
      });
      expect(statusOf(good, 'kitCredential').status).toBe('pass');
      const bad = await runDoctor(oauthEnv(path.join(dir, 'missing-dir', 'tokens.json')));
      expect(statusOf(bad, 'tokenStore')).toMatchObject({
        status: 'fail',
        result: expect.stringMatching(
          /KIT_TOKEN_STORE: cannot use .*missing-dir.* for the rotated Kit OAuth tokens \(its directory does not exist\)/,
        ),
        fix: expect.stringMatching(/writable by the server user/),
      });
      expect(bad.ok).toBe(false);
      expectNoSecrets(bad, ['at-doctor-1', 'rt-doctor-1', 'doctor-secret']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await oauthKit.close();
    }
  });

  it('prints the table, exits 1 on a failure and 2 on bad arguments (doctorCli)', async () => {
    let out = '';
    let err = '';
    const io = {
      env: envFor(sandbox, { KIT_API_KEY: 'kit_deadbeefdeadbeefdeadbeef' }),
      stdout: (t: string) => (out += t),
      stderr: (t: string) => (err += t),
    };
    expect(await doctorCli([], io)).toBe(1);
    expect(out).toMatch(/check\s+│ result\s+│ what to do/);
    expect(out).toMatch(/Kit credential accepted\s+│ FAIL/);
    expect(out).toMatch(/1 check\(s\) failed/);
    expect(`${out}${err}`).not.toContain('kit_deadbeefdeadbeefdeadbeef');
    expect(await doctorCli(['--url', 'not a url'], io)).toBe(2);
    expect(await doctorCli(['--bogus'], io)).toBe(2);
  });
});

const describeRedis = redisUrl ? describe : describe.skip;

describe('doctor with a running server', () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness();
    const server = await h.service.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await h.close();
  });

  it('is all green on a healthy set-up: the round-trip changes nothing in Kit', async () => {
    const env = envFor(h.sandbox, { PUBLIC_BASE_URL: base, GROUP_TAG_PREFIX: 'okta:' });
    const before = h.sandbox.store.counts();
    const report = await runDoctor(env, { url: `${base}/scim/v2` });
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'pass'],
      ['kitReachable', 'pass'],
      ['kitCredential', 'pass'],
      ['tokenStore', 'skip'],
      ['reservedFields', 'pass'],
      ['reservedTags', 'pass'],
      ['groupPrefix', 'pass'],
      ['redis', 'skip'],
      ['publicUrl', 'pass'],
      ['scimRoundTrip', 'pass'],
    ]);
    expect(report.ok).toBe(true);
    expect(statusOf(report, 'kitCredential').result).toContain('"Kit Sandbox"');
    expect(h.sandbox.store.counts()).toEqual(before);
    expectNoSecrets(report, [h.sandbox.apiKey, TOKEN, READONLY_TOKEN]);
  });

  it('names a SCIM token the server refuses', async () => {
    const report = await runDoctor(envFor(h.sandbox), { url: base, token: 'x'.repeat(40) });
    expect(statusOf(report, 'scimRoundTrip')).toMatchObject({
      status: 'fail',
      result: expect.stringMatching(/HTTP 401/),
      fix: expect.stringMatching(/refused the token/),
    });
  });

  describeRedis('with Redis', () => {
    it('books a slot through the shared limiter, and shows progress while it waits', async () => {
      const env = envFor(h.sandbox, { REDIS_URL: redisUrl!, KIT_RATE_WINDOW_MS: '60000' });
      // Another replica's 429 pause on this credential's shared book: the doctor's first call waits it out.
      const id = limiterIdFor(h.sandbox.url, { kind: 'apiKey', apiKey: h.sandbox.apiKey });
      const redis = new Redis(redisUrl!);
      await redis.set(slotBookKeys(id).pause, '1', 'PX', 2200);
      const progress: string[] = [];
      try {
        const report = await runDoctor(env, { progress: (m) => progress.push(m) });
        expect(statusOf(report, 'redis')).toMatchObject({
          status: 'pass',
          result: expect.stringMatching(/booked a slot in the shared limiter/),
        });
        expect(report.ok).toBe(true);
        expect(progress.some((m) => /waiting for a Kit call slot \(\d+ s\)/.test(m))).toBe(true);
      } finally {
        await redis.del(slotBookKeys(id).pause, slotBookKeys(id).next);
        redis.disconnect();
      }
    });
  });
});

describe('convertkit-scim doctor (the binary)', () => {
  it('exits 1 with a JSON report naming the failure, and never prints the key', async () => {
    const sandbox = await startKitSandbox();
    try {
      const root = path.resolve(__dirname, '../..');
      // Asynchronously: the sandbox answering the child runs on this process's event loop.
      const child = spawn(
        process.execPath,
        [require.resolve('tsx/cli'), path.join(root, 'src/app/main.ts'), 'doctor', '--json'],
        {
          cwd: root,
          env: { PATH: process.env.PATH ?? '', ...envFor(sandbox, { KIT_API_KEY: 'kit_notthekey0123456789' }) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const run = { stdout: '', stderr: '', status: null as number | null };
      child.stdout.on('data', (d) => (run.stdout += d));
      child.stderr.on('data', (d) => (run.stderr += d));
      run.status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(run.status).toBe(1);
      const report = JSON.parse(run.stdout) as DoctorReport;
      expect(report.ok).toBe(false);
      expect(report.checks.find((c) => c.id === 'kitCredential')?.status).toBe('fail');
      expect(`${run.stdout}${run.stderr}`).not.toContain('kit_notthekey0123456789');
    } finally {
      await sandbox.close();
    }
  });
});
