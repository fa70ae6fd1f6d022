import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike, SignJWT } from 'jose';
import type { Clock, TimerHandle } from '../platform/clock';
import type { RedisLink } from '../platform/redisLink';

// Signs SETs (RFC 8417 §2.3: JWS, `typ: secevent+jwt`) with ES256 unless the configured key says otherwise, and
// publishes the public half as a JWKS that receivers fetch (jose's createRemoteJWKSet on their side).
//
// Where the private key comes from, in order: SCIM_EVENTS_SIGNING_KEY (a private JWK, kept by the operator);
// else one generated once and kept in Redis (every replica signs with the same key) or in a file (mode 0600).
// Rotation: a key set with SCIM_EVENTS_PREVIOUS_PUBLIC_KEYS keeps the old public keys in the JWKS, so SETs signed
// before the switch and still in flight verify until the operator drops them.
//
// The key kept in Redis is a ring that converges: Redis can lose it (FLUSHALL, a restart without persistence),
// and a replica started then would otherwise generate a second key while the others keep the first, so a
// receiver fetching the JWKS from one replica could not verify SETs signed by another. Each replica therefore
// re-reads the shared key before each signing batch and on a short interval: when the store names another key,
// it adopts that one; when the store holds none, it offers its own (SET NX, then reads back, so two replicas
// offering at once both end with the winner's). A key a replica stops signing with stays published (by it, and
// in a shared hash every replica reads into its JWKS) for the retention given, long enough for every SET it
// signed that is still queued.

export const SET_TYP = 'secevent+jwt';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyLike | Uint8Array;
  publicJwk: JWK;
  /** The private JWK, kept only for a key that may be offered to the shared store. */
  privateJwk?: JWK;
}

export interface SharedRingOptions {
  redis: RedisLink;
  /** The Redis key naming the signing key; `<key>:published` holds the public keys still published. */
  key: string;
  clock: Clock;
  /** How long a key stays published after its last use (covers every SET it signed that is still queued). */
  retentionMs: number;
  /** How often the shared key is re-read when nothing is signed. */
  checkEveryMs?: number;
  /** Re-reads closer together than this (several signing batches in a row) are served by the last one. */
  minGapMs?: number;
  /** Told when this replica switches keys (from, to). */
  onAdopt?: (from: string, to: string) => void;
}

type Published = { jwk: JWK; until: number };

async function keyOf(privateJwk: JWK): Promise<SigningKey> {
  if (typeof privateJwk.d !== 'string') throw new Error('SCIM_EVENTS_SIGNING_KEY must be a private JWK (with "d")');
  const alg = privateJwk.alg ?? (privateJwk.kty === 'EC' ? 'ES256' : privateJwk.kty === 'RSA' ? 'RS256' : 'EdDSA');
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(privateJwk));
  const privateKey = await importJWK({ ...privateJwk, alg }, alg);
  // The public half: everything but the private members (RFC 7518 §6.2.2, §6.3.2).
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = privateJwk as JWK & { oth?: unknown };
  delete (pub as { oth?: unknown }).oth;
  return { kid, alg, privateKey, publicJwk: { ...pub, alg, kid, use: 'sig' }, privateJwk: { ...privateJwk, kid } };
}

export class EventSigner {
  /** Keys this replica signed with and no longer does: published until `until`. */
  private readonly retired = new Map<string, Published>();
  /** Public keys other replicas published in the shared hash (as of the last read). */
  private shared: JWK[] = [];
  private lastCheck = Number.NEGATIVE_INFINITY;
  private checking?: Promise<void>;
  private timer?: TimerHandle;
  private stopped = false;
  /** Whether the current key signed anything (a key that never did is dropped, not retired, when replaced). */
  private used = false;

  private constructor(
    private current: SigningKey,
    private readonly previous: JWK[],
    private readonly ring?: SharedRingOptions,
  ) {}

  get kid(): string {
    return this.current.kid;
  }

  /**
   * The JWKS document: the current public key first, then the keys kept for SETs still in flight (configured
   * previous keys, keys this replica retired, keys other replicas published), each kid once.
   */
  jwks(): { keys: JWK[] } {
    const now = this.ring?.clock.now() ?? 0;
    const keys = [this.current.publicJwk, ...this.previous];
    for (const r of this.retired.values()) if (r.until > now) keys.push(r.jwk);
    keys.push(...this.shared);
    const seen = new Set<string>();
    return { keys: keys.filter((k) => (k.kid === undefined || seen.has(k.kid) ? false : (seen.add(k.kid), true))) };
  }

  async sign(claims: Record<string, unknown>, audience: string): Promise<string> {
    this.used = true;
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: this.current.alg, kid: this.current.kid, typ: SET_TYP })
      .setAudience(audience)
      .sign(this.current.privateKey);
  }

  /**
   * Brings this replica in line with the key the shared store names (nothing to do without a shared store).
   * Never throws: with Redis away, the replica signs on with the key it has, which it keeps publishing.
   */
  converge(): Promise<void> {
    const ring = this.ring;
    if (!ring || this.stopped) return Promise.resolve();
    if (this.checking) return this.checking;
    if (ring.clock.now() - this.lastCheck < (ring.minGapMs ?? 200)) return Promise.resolve();
    this.checking = this.check(ring)
      .catch(() => {
        // Redis away: the next batch or tick tries again.
      })
      .finally(() => {
        this.lastCheck = ring.clock.now();
        this.checking = undefined;
      });
    return this.checking;
  }

  /** Stops the periodic re-read. */
  stop(): void {
    this.stopped = true;
    this.ring?.clock.clearTimeout(this.timer);
  }

  private tick(): void {
    const ring = this.ring;
    if (!ring || this.stopped) return;
    this.timer = ring.clock.setTimeout(
      () => {
        void this.converge().finally(() => this.tick());
      },
      ring.checkEveryMs ?? 1000,
      { background: true },
    );
  }

  private async check(ring: SharedRingOptions): Promise<void> {
    const offer = JSON.stringify(this.current.privateJwk);
    const stored = await ring.redis.run(async (c) => {
      await c.set(ring.key, offer, 'NX');
      return c.get(ring.key);
    });
    const now = ring.clock.now();
    if (stored !== null && stored !== offer) {
      const named = await keyOf(JSON.parse(stored) as JWK);
      if (named.kid !== this.current.kid) {
        const from = this.current.kid;
        if (this.used) this.retired.set(from, { jwk: this.current.publicJwk, until: now + ring.retentionMs });
        this.retired.delete(named.kid);
        this.current = named;
        this.used = false;
        ring.onAdopt?.(from, named.kid);
      }
    }
    for (const [kid, r] of this.retired) if (r.until <= now) this.retired.delete(kid);
    // Publish what this replica may still have signed with, then read what every replica published.
    const mine: [string, string][] = [
      [this.current.kid, JSON.stringify({ jwk: this.current.publicJwk, until: now + ring.retentionMs })],
      ...[...this.retired].map(([kid, r]): [string, string] => [kid, JSON.stringify(r)]),
    ];
    const published = `${ring.key}:published`;
    const all = await ring.redis.run(async (c) => {
      // Keep the later end where another replica published the same key for longer.
      const existing = await c.hmget(published, ...mine.map(([kid]) => kid));
      const writes: string[] = [];
      mine.forEach(([kid, value], i) => {
        const there = existing[i] ? (JSON.parse(existing[i]!) as Published) : undefined;
        if (!there || there.until < (JSON.parse(value) as Published).until) writes.push(kid, value);
      });
      if (writes.length > 0) await c.hset(published, ...writes);
      return c.hgetall(published);
    });
    const expired: string[] = [];
    const shared: JWK[] = [];
    for (const [kid, value] of Object.entries(all)) {
      const p = JSON.parse(value) as Published;
      if (p.until <= now) expired.push(kid);
      else shared.push(p.jwk);
    }
    if (expired.length > 0) await ring.redis.run((c) => c.hdel(published, ...expired));
    this.shared = shared;
  }

  static async fromJwk(privateJwk: JWK, previous: JWK[] = []): Promise<EventSigner> {
    const key = await keyOf(privateJwk);
    // A configured key is the operator's: it is never offered to a shared store.
    delete key.privateJwk;
    return new EventSigner(key, previous);
  }

  /** A fresh ES256 key as a private JWK (for persisting). */
  static async generateJwk(): Promise<JWK> {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    return { ...jwk, alg: 'ES256', kid: await calculateJwkThumbprint(jwk) };
  }

  /** The private JWK in a file, generated on first use (mode 0600: it is a secret). */
  static async keyFileJwk(path: string): Promise<JWK> {
    if (existsSync(path)) return JSON.parse(unusableKeyFile(path, () => readFileSync(path, 'utf8'))) as JWK;
    const jwk = await EventSigner.generateJwk();
    unusableKeyFile(path, () => writeFileSync(path, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' }));
    return jwk;
  }

  /** The key in a file, generated on first use. */
  static async fromFile(path: string, previous: JWK[] = []): Promise<EventSigner> {
    return EventSigner.fromJwk(await EventSigner.keyFileJwk(path), previous);
  }

  /**
   * The key the shared store names, generated by whichever replica comes first (SET NX): every replica then
   * signs with it, and keeps converging on it (see above) until stop().
   */
  static async fromRedis(ring: SharedRingOptions, previous: JWK[] = []): Promise<EventSigner> {
    const signer = new EventSigner(await keyOf(await EventSigner.generateJwk()), previous, ring);
    await signer.converge();
    signer.tick();
    return signer;
  }

  /**
   * A replica that could not reach the store at start-up: signs with `fallback` (the key file) and offers it to
   * the store, or adopts the store's, as soon as the store answers.
   */
  static async joiningRing(fallback: JWK, ring: SharedRingOptions, previous: JWK[] = []): Promise<EventSigner> {
    const signer = new EventSigner(await keyOf(fallback), previous, ring);
    signer.tick();
    return signer;
  }
}

/**
 * Runs a file operation on the signing key file; a failure names the setting that chose the path (the
 * environment's or the tenants file's), not a bare ENOENT among the start-up lines.
 */
function unusableKeyFile<T>(path: string, use: () => T): T {
  try {
    return use();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err;
    const why = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : code;
    throw new Error(
      `SCIM_EVENTS_KEY_FILE (or a tenant's events.keyFile): cannot use ${path} for the security events signing key (${why}); name a writable file`,
    );
  }
}
