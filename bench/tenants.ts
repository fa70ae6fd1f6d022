import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../src/config/environment';
import { KIT_MAX_BUDGET, maxInWindow } from '../src/kit/spacing';
import { type KitSandbox, type SandboxAccount, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../src/app/service';
import { readTenantsFile } from '../src/config/tenants/tenantsFile';

// Tenants sharing a Kit key: Kit's rolling window holds per Kit key however many tenants use the key. Two tenants' IdPs
// send userName lookups (one Kit call each) as fast as they are answered, for BENCH_TENANTS_SECONDS (130: more than two
// windows), first with both tenants on ONE Kit key (one shared limiter: the key's budget split between them), then on
// two keys (each key its own budget). Figures from the sandbox's own arrival log, per key.
//   BENCH_TENANTS_SECONDS (130)   length of each half
//   BENCH_WINDOW_MS (60000)       Kit's window; shorter for a quick look (budget 120 per window either way)
//   BENCH_TENANTS_WORKERS (6)     IdP callers per tenant

const SECONDS = Number(process.env.BENCH_TENANTS_SECONDS ?? 130);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 60_000);
const WORKERS = Number(process.env.BENCH_TENANTS_WORKERS ?? 6);
const TOKENS = {
  a: 'bench-tenant-a-token-0123456789abcdef012345',
  b: 'bench-tenant-b-token-0123456789abcdef012345',
};
type Id = keyof typeof TOKENS;

interface TenantFigures {
  answered: number;
  rateLimitedToIdp: number;
  failed: number;
}

function tenantsYaml(sandbox: KitSandbox, keys: Record<Id, string>): string {
  return [
    'version: 1',
    'tenants:',
    ...(['a', 'b'] as const).flatMap((id) => [
      `  - id: ${id}`,
      '    kit:',
      `      apiKey: ${keys[id]}`,
      `      baseUrl: ${sandbox.url}`,
      '    bearerTokens:',
      `      - { name: idp-${id}, token: ${TOKENS[id]} }`,
    ]),
    '',
  ].join('\n');
}

async function drive(service: Service, id: Id, until: number): Promise<TenantFigures> {
  const figures: TenantFigures = { answered: 0, rateLimitedToIdp: 0, failed: 0 };
  let n = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < until) {
        const filter = encodeURIComponent(`userName eq "bench.${id}.${n++}@example.com"`);
        const res = await request(service.app)
          .get(`/tenants/${id}/scim/v2/Users?filter=${filter}`)
          .set('Authorization', `Bearer ${TOKENS[id]}`);
        if (res.status === 200) figures.answered++;
        else if (res.status === 429) figures.rateLimitedToIdp++;
        else figures.failed++;
      }
    }),
  );
  return figures;
}

function keyLine(label: string, account: SandboxAccount, start: number, ms: number): number {
  const log = account.calls().log.filter((c) => c.at >= start && c.at < start + ms);
  const accepted = log.filter((c) => c.status !== 429);
  const perWindow = (accepted.length / ms) * WINDOW_MS;
  const max = maxInWindow(
    accepted.map((c) => c.at),
    WINDOW_MS,
  );
  const rejected = log.length - accepted.length;
  const verdict = max <= KIT_MAX_BUDGET && rejected === 0 ? 'PASS' : 'FAIL';
  console.log(
    `  ${label.padEnd(10)} calls/window ${perWindow.toFixed(1).padStart(6)} (${((perWindow / KIT_MAX_BUDGET) * 100).toFixed(1)} % of ${KIT_MAX_BUDGET})` +
      `   max in any window ${String(max).padStart(3)} (limit ${KIT_MAX_BUDGET})   429s ${rejected}   ${verdict}`,
  );
  return perWindow;
}

async function half(label: string, sameKey: boolean): Promise<void> {
  const sandbox = await startKitSandbox({ rateLimit: { max: KIT_MAX_BUDGET, windowMs: WINDOW_MS } });
  const first = sandbox.createAccount();
  const second = sameKey ? first : sandbox.createAccount();
  const dir = mkdtempSync(path.join(tmpdir(), 'kscim-bench-tenants-'));
  const file = path.join(dir, 'tenants.yaml');
  writeFileSync(file, tenantsYaml(sandbox, { a: first.apiKey, b: second.apiKey }));
  const env = {
    TENANTS_FILE: file,
    KIT_RATE_WINDOW_MS: String(WINDOW_MS),
    KIT_MAX_WAIT_MS: String(Math.max(25_000, WINDOW_MS / 2)),
    MIRROR: 'off',
    LOOKUP_SNAPSHOT_SECONDS: '0',
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env);
  const service = new Service({
    config,
    logger: pino({ level: 'silent' }),
    tenants: readTenantsFile(file, config, env),
  });
  await service.bootstrap();
  first.resetCalls();
  if (!sameKey) second.resetCalls();
  const start = Date.now();
  const ms = SECONDS * 1000;
  const [a, b] = await Promise.all([drive(service, 'a', start + ms), drive(service, 'b', start + ms)]);
  console.log(`${label}:`);
  for (const [id, f] of [
    ['a', a],
    ['b', b],
  ] as const)
    console.log(
      `  tenant ${id}   lookups answered ${String(f.answered).padStart(5)}   429 to the IdP ${f.rateLimitedToIdp}   failed ${f.failed}`,
    );
  if (sameKey) keyLine('one key', first, start, ms);
  else {
    const total = keyLine('key of a', first, start, ms) + keyLine('key of b', second, start, ms);
    console.log(
      `  both keys  calls/window ${total.toFixed(1)} (${((total / KIT_MAX_BUDGET) * 100).toFixed(1)} % of one key's budget)`,
    );
  }
  await service.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
}

export async function run(): Promise<void> {
  console.log(
    `window ${WINDOW_MS} ms, budget ${KIT_MAX_BUDGET} per key, ${SECONDS} s per half, ${WORKERS} IdP callers per tenant`,
  );
  await half('two tenants on one Kit key (one shared limiter)', true);
  await half('two tenants on two Kit keys (a limiter each)', false);
}
