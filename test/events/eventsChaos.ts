import { mkdtempSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { KIT_EVENT_EXTENSION, SCIM_EVENT } from '../../src/events/securityEvent';
import { oktaUser, patch } from '../support/harness';
import { eventually, PrivateRedis } from '../support/privateRedis';
import { type ServerProcess, startServerProcess } from '../support/serverProcess';
import { VerifyingPushReceiver, type ReceivedSet } from './receiver';

// The security-events chaos run, shared by test/events/chaos.e2e.test.ts (which asserts) and bench/eventsChaos.ts
// (which prints): two server processes on a redis-server of the run's own, behind a load balancer written here
// (the issuer, and the address Kit's webhooks reach); the Kit sandbox in this process, delivering each webhook
// before or after its API answer (alternating per user); two push receivers verifying every SET against the
// JWKS of the replicas in turn; an IdP creating, renaming, deactivating and deleting users through the replicas
// in turn, retrying on 5xx, 429 and refused connections; and Kit-side unsubscribes made directly in the sandbox.
// Each fault is injected while the IdP pushes; then the run waits until every change has its SETs.

const IDP_TOKEN = 'chaos-idp-token-0123456789abcdef0123456789';
const RECEIVERS = [
  { name: 'iga', token: 'chaos-iga-token-0123456789abcdef0123456789ab', audience: 'https://iga.example/chaos' },
  { name: 'siem', token: 'chaos-siem-token-0123456789abcdef0123456789a', audience: 'https://siem.example/chaos' },
];
const WEBHOOK_SECRET = 'whsec-chaos-0123456789abcdef0123456789abcd';

export type FaultName = 'redis SIGSTOP' | 'redis killed, restarted empty' | 'FLUSHALL' | 'replica kill -9 + restart';
export const FAULTS: FaultName[] = [
  'redis SIGSTOP',
  'redis killed, restarted empty',
  'FLUSHALL',
  'replica kill -9 + restart',
];

export interface ChaosOptions {
  usersPerFault: number;
  kitUnsubscribesPerFault: number;
  /**
   * Users deactivated on the first replica while the fault is on and read on the other as soon as it is over:
   * a deactivation still waiting in the writer's journal spool must not be taken there for an unsubscribe in Kit.
   */
  crossReadsPerFault: number;
  pauseSeconds: number;
  /** How long to wait for every expected SET after a fault's push ends. */
  deliveryTimeoutMs: number;
}

export interface FaultReport {
  fault: FaultName;
  changes: number;
  /** Per receiver: changes with no SET. */
  missing: number;
  /** SETs whose semantic key (subject + event + change) was already received under another jti. */
  duplicatesNewJti: number;
  /** SETs received for a change that did not happen (a Kit-side reason for an IdP write, or any unknown key). */
  falseSets: number;
  unverified: number;
  kitUnsubscribes: number;
  kitUnsubscribesDelivered: number;
  /** Seconds from each Kit-side unsubscribe to its SET, per receiver copy. */
  unsubscribeSeconds: number[];
  /** Samples of what went wrong, for a failing assertion's message. */
  examples: string[];
}

/** subject + event + change: a receiver's view of "the same thing happened". */
function semanticKey(s: ReceivedSet): string {
  return `${s.sub_id.uri} ${JSON.stringify(s.events)}`;
}

/** The same key, for a Kit-side unsubscribe learned by any route (webhook, re-read, re-walk). */
function kitUnsubscribeKey(uri: string): string {
  return `${uri} kit-unsubscribe`;
}

function keyOf(s: ReceivedSet): string {
  const deactivate = s.events[SCIM_EVENT.deactivate] as Record<string, { reason?: string }> | undefined;
  if (deactivate?.[KIT_EVENT_EXTENSION]?.reason === 'unsubscribe') return kitUnsubscribeKey(s.sub_id.uri);
  return semanticKey(s);
}

class LoadBalancer {
  private server?: Server;
  private turn = 0;
  url = '';
  constructor(private readonly upstreams: () => string[]) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.forward(req, Buffer.concat(chunks), res, 0));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** To the next replica; a refused connection (a replica down) goes to the other one. */
  private async forward(req: IncomingMessage, body: Buffer, res: ServerResponse, tries: number): Promise<void> {
    const ups = this.upstreams();
    const target = new URL(req.url ?? '/', ups[this.turn++ % ups.length]);
    const out = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => {
      if (res.headersSent) return res.destroy();
      if (tries < 4) return void this.forward(req, body, res, tries + 1);
      res.writeHead(502).end();
    });
    out.end(body);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

interface Replica {
  process: ServerProcess;
  spoolDir: string;
}

export class EventsChaos {
  redis!: PrivateRedis;
  sandbox!: KitSandbox;
  private readonly replicas: Replica[] = [];
  private lb!: LoadBalancer;
  readonly receivers: VerifyingPushReceiver[] = [];
  private turn = 0;
  private env: Record<string, string> = {};
  /** Key → expected, per change made (known before its SET can arrive). */
  private readonly expected = new Map<string, { kitUnsubscribeAt?: number }>();

  constructor(private readonly options: ChaosOptions) {}

  /** What the replicas running now have logged above info (for a failing run's message). */
  warnings(): string[] {
    return this.replicas.flatMap((r) =>
      r.process
        .output()
        .split('\n')
        .filter((l) => /"level":[4-6]\d/.test(l)),
    );
  }

  urls(): string[] {
    return this.replicas.map((r) => r.process.url);
  }

  async start(): Promise<void> {
    this.redis = await PrivateRedis.start();
    this.sandbox = await startKitSandbox({
      rateLimit: { max: 100000, windowMs: 60000 },
      webhookRetryDelaysMs: [200, 1000, 3000],
    });
    this.lb = new LoadBalancer(() => this.urls());
    await this.lb.start();
    for (const r of RECEIVERS) {
      const receiver = new VerifyingPushReceiver(r.token, r.audience, this.lb.url, () => this.urls());
      await receiver.start();
      this.receivers.push(receiver);
    }
    this.env = {
      KIT_API_URL: this.sandbox.url,
      KIT_API_KEY: this.sandbox.apiKey,
      SCIM_BEARER_TOKENS: `okta=${IDP_TOKEN}`,
      REDIS_URL: this.redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '500',
      REDIS_PROBE_INTERVAL_MS: '200',
      PUBLIC_BASE_URL: this.lb.url,
      KIT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      MIRROR: 'on',
      SCIM_EVENTS_RECEIVERS: RECEIVERS.map((r) => `${r.name}=${r.token}@${r.audience}`).join(','),
      SCIM_EVENTS_PUSH: RECEIVERS.map((r, i) => `${r.name}=${this.receivers[i]!.url}`).join(','),
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'info',
    };
    const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'scim-chaos-spool-')));
    const started = await Promise.all(dirs.map((d) => this.startReplica(d)));
    this.replicas.push(...started);
    await eventually(() => this.sandbox.store.listWebhooks().length >= 4);
    await this.ready();
  }

  private async startReplica(spoolDir: string): Promise<Replica> {
    const process = await startServerProcess({ ...this.env, SCIM_EVENTS_SPOOL_DIR: spoolDir }, 60_000);
    return { process, spoolDir };
  }

  private async ready(): Promise<void> {
    let last: string[] = [];
    await eventually(async () => {
      last = await Promise.all(
        this.urls().map((u) =>
          fetch(`${u}/readyz`, { signal: AbortSignal.timeout(2000) })
            .then(async (r) => `${r.status} ${await r.text()}`)
            .catch((e: Error) => `no answer: ${e.message}`),
        ),
      );
      return last.every((s) => s.startsWith('200'));
    }, 600).catch(() => {
      const exited = this.replicas
        .filter((r) => r.process.child.exitCode !== null || r.process.child.signalCode !== null)
        .map(
          (r) =>
            `exited (${r.process.child.exitCode ?? r.process.child.signalCode}):\n${r.process.output().slice(-3000)}`,
        );
      throw new Error(`replicas not ready: ${last.join(' | ')}\n${exited.join('\n')}`);
    });
  }

  /**
   * One IdP request through the replicas in turn, retried (on the other replica) on 5xx, 429 or no answer; or
   * always on one replica (`replica`, its index).
   */
  private async scim(
    method: string,
    path: string,
    body?: unknown,
    replica?: number,
  ): Promise<{ status: number; body: any }> {
    for (let attempt = 0; ; attempt++) {
      const urls = this.urls();
      const base = replica === undefined ? urls[this.turn++ % urls.length]! : urls[replica]!;
      let status = 0;
      let parsed: any;
      try {
        const res = await fetch(`${base}/scim/v2${path}`, {
          method,
          headers: { Authorization: `Bearer ${IDP_TOKEN}`, 'Content-Type': 'application/scim+json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        status = res.status;
        const text = await res.text();
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        status = 0;
      }
      if (status !== 0 && status !== 429 && status < 500) return { status, body: parsed };
      if (attempt >= 200) throw new Error(`${method} ${path}: still ${status} after ${attempt} tries`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }

  private expect(key: string, extra: { kitUnsubscribeAt?: number } = {}): void {
    this.expected.set(key, extra);
  }

  private async createUser(tag: string): Promise<string> {
    const userName = `chaos.${tag}@example.com`;
    let res = await this.scim('POST', '/Users', oktaUser(userName));
    if (res.status === 409) {
      // A retried create whose first try was applied: the IdP finds the user it made, as Okta does.
      res = await this.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
      if (res.status !== 200 || res.body.Resources.length !== 1)
        throw new Error(`lookup of ${userName}: ${res.status}`);
      res = { status: 201, body: res.body.Resources[0] };
    }
    if (res.status !== 201) throw new Error(`create ${userName}: ${res.status} ${JSON.stringify(res.body)}`);
    const id = res.body.id as string;
    this.expect(`/Users/${id} ${JSON.stringify({ [SCIM_EVENT.createNotice]: { attributes: [] } })}`);
    return id;
  }

  private async deactivateOnFirstReplica(id: string): Promise<void> {
    const uri = `/Users/${id}`;
    const off = await this.scim('PATCH', uri, patch({ op: 'replace', path: 'active', value: false }), 0);
    if (off.status !== 200) throw new Error(`deactivate ${id} on the first replica: ${off.status}`);
    this.expect(`${uri} ${JSON.stringify({ [SCIM_EVENT.deactivate]: {} })}`);
  }

  /**
   * Reads each user on the last replica three times over the first second after the fault (a writer's spool
   * moves within about a second). Few reads: each may be a Kit call, ahead of the deliveries' re-reads.
   */
  private async readOnLastReplica(ids: string[]): Promise<void> {
    for (let round = 0; round < 3 && ids.length > 0; round++) {
      for (const id of ids) await this.scim('GET', `/Users/${id}`, undefined, this.replicas.length - 1);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** One user's life through the IdP: create, rename, deactivate, delete. */
  private async lifecycle(tag: string): Promise<void> {
    const id = await this.createUser(tag);
    const uri = `/Users/${id}`;
    const rename = await this.scim(
      'PATCH',
      uri,
      patch({ op: 'replace', path: 'name.givenName', value: `Renamed ${tag}` }),
    );
    if (rename.status !== 200) throw new Error(`rename ${id}: ${rename.status}`);
    this.expect(`${uri} ${JSON.stringify({ [SCIM_EVENT.patchNotice]: { attributes: ['name.givenName'] } })}`);
    const off = await this.scim('PATCH', uri, patch({ op: 'replace', path: 'active', value: false }));
    if (off.status !== 200) throw new Error(`deactivate ${id}: ${off.status}`);
    this.expect(`${uri} ${JSON.stringify({ [SCIM_EVENT.deactivate]: {} })}`);
    const del = await this.scim('DELETE', uri);
    // 404: a retried DELETE whose first try was applied.
    if (del.status !== 204 && del.status !== 404) throw new Error(`delete ${id}: ${del.status}`);
    this.expect(`${uri} ${JSON.stringify({ [SCIM_EVENT.delete]: {} })}`);
  }

  /** Runs one fault under an IdP push and returns what the receivers got for this fault's changes. */
  async runFault(fault: FaultName, index: number): Promise<FaultReport> {
    const { usersPerFault, kitUnsubscribesPerFault, crossReadsPerFault } = this.options;
    this.expected.clear();
    const firstReceived = this.receivers.map((r) => r.received.length);
    const firstUnverified = this.receivers.map((r) => r.unverified.length);

    // Users a person will unsubscribe in Kit while the fault is on.
    const kitSide: string[] = [];
    for (let i = 0; i < kitUnsubscribesPerFault; i++) kitSide.push(await this.createUser(`f${index}.kit${i}`));
    const crossRead: string[] = [];
    for (let i = 0; i < crossReadsPerFault; i++) crossRead.push(await this.createUser(`f${index}.x${i}`));

    let pushed = 0;
    const push = (async () => {
      for (let i = 0; i < usersPerFault; i++) {
        this.sandbox.webhooks.setOrder(i % 2 === 0 ? 'beforeAnswer' : 'afterAnswer');
        await this.lifecycle(`f${index}.u${i}`);
        pushed++;
      }
    })();
    await eventually(() => pushed >= Math.floor(usersPerFault / 4), 600);

    let deactivations: Promise<unknown> = Promise.resolve();
    const duringFault = () => {
      for (const id of kitSide) {
        this.sandbox.store.setState(Number(id), 'inactive');
        this.expect(kitUnsubscribeKey(`/Users/${id}`), { kitUnsubscribeAt: Date.now() });
      }
      deactivations = Promise.all(crossRead.map((id) => this.deactivateOnFirstReplica(id)));
    };
    await this.inject(fault, duringFault);
    await deactivations;
    await this.readOnLastReplica(crossRead);
    await push;
    await this.ready();

    // Every change's SET at every receiver, then the outboxes empty (so a late duplicate would have come).
    const keysAt = (r: VerifyingPushReceiver, from: number) => new Set(r.received.slice(from).map(keyOf));
    try {
      await eventually(
        () =>
          this.receivers.every((r, i) => [...this.expected.keys()].every((k) => keysAt(r, firstReceived[i]!).has(k))),
        Math.ceil(this.options.deliveryTimeoutMs / 200),
        200,
      );
    } catch {
      // reported as missing below
    }
    await this.outboxesEmpty();

    const report: FaultReport = {
      fault,
      changes: this.expected.size,
      missing: 0,
      duplicatesNewJti: 0,
      falseSets: 0,
      unverified: 0,
      kitUnsubscribes: kitSide.length,
      kitUnsubscribesDelivered: 0,
      unsubscribeSeconds: [],
      examples: [],
    };
    this.receivers.forEach((r, i) => {
      const sets = r.received.slice(firstReceived[i]);
      report.unverified += r.unverified.length - firstUnverified[i]!;
      const jtisByKey = new Map<string, Set<string>>();
      for (const s of sets) {
        const key = keyOf(s);
        if (!this.expected.has(key)) {
          report.falseSets++;
          if (report.examples.length < 8) report.examples.push(`${RECEIVERS[i]!.name} unexpected: ${semanticKey(s)}`);
          continue;
        }
        const jtis = jtisByKey.get(key) ?? new Set<string>();
        jtis.add(s.jti!);
        jtisByKey.set(key, jtis);
        const at = this.expected.get(key)!.kitUnsubscribeAt;
        if (at !== undefined && jtis.size === 1 && sets.find((x) => keyOf(x) === key) === s) {
          report.unsubscribeSeconds.push((s.receivedAt - at) / 1000);
        }
      }
      for (const [key, want] of this.expected) {
        const jtis = jtisByKey.get(key);
        if (!jtis) {
          report.missing++;
          if (report.examples.length < 8) report.examples.push(`${RECEIVERS[i]!.name} missing: ${key}`);
          continue;
        }
        if (jtis.size > 1) {
          report.duplicatesNewJti += jtis.size - 1;
          if (report.examples.length < 8) report.examples.push(`${RECEIVERS[i]!.name} ${jtis.size} jtis: ${key}`);
        }
        if (want.kitUnsubscribeAt !== undefined) report.kitUnsubscribesDelivered++;
      }
    });
    return report;
  }

  private async inject(fault: FaultName, duringFault: () => void): Promise<void> {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    switch (fault) {
      case 'redis SIGSTOP':
        this.redis.pause();
        await sleep(1000);
        duringFault();
        await sleep(this.options.pauseSeconds * 1000 - 1000);
        this.redis.resume();
        return;
      case 'redis killed, restarted empty':
        await this.redis.kill();
        await sleep(1000);
        duringFault();
        await sleep(2000);
        await this.redis.restart();
        return;
      case 'FLUSHALL':
        await this.redis.command((r) => r.flushall());
        duringFault();
        return;
      case 'replica kill -9 + restart': {
        const victim = this.replicas[1]!;
        await victim.process.stop('SIGKILL');
        this.replicas.splice(1, 1);
        duringFault();
        this.replicas.push(await this.startReplica(victim.spoolDir));
        return;
      }
    }
  }

  /** Both replicas report no SET pending for any receiver (their /metrics: scim_events_pending). */
  private async outboxesEmpty(): Promise<void> {
    await eventually(
      async () => {
        for (const url of this.urls()) {
          const text = await fetch(`${url}/metrics`, {
            headers: { Authorization: `Bearer ${IDP_TOKEN}` },
            signal: AbortSignal.timeout(2000),
          })
            .then((r) => (r.status === 200 ? r.text() : ''))
            .catch(() => '');
          const pending = [...text.matchAll(/^scim_events_pending\{[^}]*\} (\d+)/gm)].map((m) => Number(m[1]));
          if (pending.length === 0 || pending.some((n) => n > 0)) return false;
        }
        return true;
      },
      150,
      200,
    ).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.process.stop('SIGKILL')));
    await this.lb?.close();
    await Promise.all(this.receivers.map((r) => r.close()));
    await this.sandbox?.close();
    await this.redis?.stop();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
