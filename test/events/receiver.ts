import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';

// A SET receiver as an IGA tool would write one (RFC 8936 poll, RFC 8417 verification): it fetches the
// transmitter's JWKS over HTTP and verifies every SET with jose before it believes a claim; it dedupes by jti.

export interface ReceivedSet extends JWTPayload {
  txn: string;
  sub_id: { format: string; uri: string };
  events: Record<string, Record<string, unknown>>;
}

export class PollingReceiver {
  readonly received: ReceivedSet[] = [];
  private readonly seen = new Set<string>();
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private pendingAcks: string[] = [];

  constructor(
    private readonly base: string,
    private readonly token: string,
    readonly audience: string,
  ) {
    this.jwks = createRemoteJWKSet(new URL(`${base}/scim/v2/Events/jwks.json`));
  }

  /** Verifies one SET as a receiver must: signature against the JWKS, issuer, audience, typ. */
  verify(jwt: string): Promise<ReceivedSet> {
    return jwtVerify(jwt, this.jwks, { issuer: this.base, audience: this.audience, typ: 'secevent+jwt' }).then(
      (r) => r.payload as ReceivedSet,
    );
  }

  async post(body: unknown, token = this.token): Promise<{ status: number; body: any; text: string }> {
    const res = await fetch(`${this.base}/scim/v2/Events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  }

  /** One poll: acknowledges what the last poll brought, returns the raw SETs of this one (verified, deduped). */
  async poll(opts: { maxEvents?: number; returnImmediately?: boolean; ack?: boolean } = {}): Promise<ReceivedSet[]> {
    const res = await this.post({
      ack: this.pendingAcks,
      maxEvents: opts.maxEvents ?? 100,
      returnImmediately: opts.returnImmediately ?? true,
    });
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${res.text}`);
    this.pendingAcks = [];
    const fresh: ReceivedSet[] = [];
    for (const [jti, jwt] of Object.entries(res.body.sets as Record<string, string>)) {
      const set = await this.verify(jwt);
      if (set.jti !== jti) throw new Error('the sets key is not the SET jti');
      if (opts.ack !== false) this.pendingAcks.push(jti);
      if (this.seen.has(jti)) continue;
      this.seen.add(jti);
      this.received.push(set);
      fresh.push(set);
    }
    return fresh;
  }

  /** Polls until nothing more is available, acknowledging everything. */
  async drain(): Promise<ReceivedSet[]> {
    const all: ReceivedSet[] = [];
    for (;;) {
      const got = await this.poll();
      all.push(...got);
      if (got.length === 0) {
        await this.poll({ maxEvents: 0 }); // the last acks
        return all;
      }
    }
  }

  /** The SETs about one resource, in arrival order, as [event URIs] lists. */
  eventsOf(uri: string, sets: ReceivedSet[] = this.received): string[][] {
    return sets.filter((s) => s.sub_id.uri === uri).map((s) => Object.keys(s.events));
  }
}

/**
 * A push receiver (RFC 8935) as an IGA tool runs one: a loopback HTTP endpoint that checks the transmitter's
 * bearer token, answers 202 to every SET and dedupes by jti. It keeps every delivery, so a test can tell a SET
 * delivered twice under one jti (a re-send, harmless) from one change announced under two jtis (a duplicate the
 * receiver cannot recognise), and find changes never announced.
 */
export class PushReceiver {
  /** Every SET accepted, in arrival order, duplicates by jti included. */
  readonly deliveries: ReceivedSet[] = [];
  private server?: Server;
  url = '';

  constructor(readonly token: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.headers.authorization !== `Bearer ${this.token}`) return void res.writeHead(401).end();
        try {
          this.deliveries.push(decodeJwt(Buffer.concat(chunks).toString()) as ReceivedSet);
          res.writeHead(202).end();
        } catch {
          res.writeHead(400, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ err: 'invalid_request', description: 'not a JWT' }));
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
    return this;
  }

  /** The SETs a receiver keeps: one per jti. */
  get received(): ReceivedSet[] {
    const byJti = new Map<string, ReceivedSet>();
    for (const s of this.deliveries) if (!byJti.has(s.jti!)) byJti.set(s.jti!, s);
    return [...byJti.values()];
  }

  /** Per change (subject and its events), how many SETs with distinct jtis announced it. */
  setsPerChange(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.received) {
      const key = `${s.sub_id.uri} ${Object.keys(s.events).sort().join('+')}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * An RFC 8935 push receiver on loopback, as an IGA tool behind a transmitter with several replicas would run one:
 * it checks the transmitter's bearer token and verifies every SET with jose against the JWKS it fetches, for
 * each SET, from the next replica in turn (`jwksFrom()` names the replicas as they are now), so a replica that
 * signs with a key the other does not publish is caught. It answers 202, or a 400 RFC 8935 error for a SET that
 * does not verify (counted in `unverified`). `onSet` sees each verified SET as it arrives.
 */
export class VerifyingPushReceiver {
  readonly received: Array<ReceivedSet & { receivedAt: number }> = [];
  readonly unverified: string[] = [];
  url = '';
  private server?: Server;
  private turn = 0;

  constructor(
    private readonly token: string,
    readonly audience: string,
    private readonly issuer: string,
    private readonly jwksFrom: () => string[],
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req.headers.authorization, Buffer.concat(chunks).toString()).then((status) => {
          if (status === 202) return res.writeHead(202).end();
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ err: status === 401 ? 'authentication_failed' : 'invalid_key' }));
        });
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/events`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(authorization: string | undefined, jwt: string): Promise<number> {
    if (authorization !== `Bearer ${this.token}`) return 401;
    const replicas = this.jwksFrom();
    const from = replicas[this.turn++ % replicas.length]!;
    let keys: JSONWebKeySet;
    try {
      keys = (await (
        await fetch(`${from}/scim/v2/Events/jwks.json`, { signal: AbortSignal.timeout(5000) })
      ).json()) as JSONWebKeySet;
    } catch {
      return 503; // that replica is down: the transmitter retries, and the next try asks the other one
    }
    try {
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(keys), {
        issuer: this.issuer,
        audience: this.audience,
        typ: 'secevent+jwt',
      });
      this.received.push({ ...(payload as ReceivedSet), receivedAt: Date.now() });
      return 202;
    } catch {
      this.unverified.push(jwt);
      return 400;
    }
  }
}
