import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { KitCredentials } from '../config/kitCredentials';

// Kit's refresh tokens rotate: using one invalidates it. The new pair must therefore be on disk before anything
// else happens, or a restart would come back with a dead refresh token and no way to get a new one.

export interface OAuthTokens {
  accessToken: string;
  refreshToken?: string;
  /** Fingerprint of the configured tokens these were rotated from; see OAuthSession. */
  seed?: string;
  rotatedAt?: string;
}

export interface TokenStore {
  load(): Promise<OAuthTokens | null>;
  save(tokens: OAuthTokens): Promise<void>;
  /**
   * Runs a refresh so that no other process sharing the store runs one at the same time (replicas on several
   * hosts would otherwise each spend the same refresh token, and all but one would be locked out).
   */
  exclusive?<T>(refresh: () => Promise<T>): Promise<T>;
}

/** Parses a stored pair; never echoes the content (it holds tokens). */
export function parseStoredTokens(text: string, where: string): OAuthTokens | null {
  let parsed: Partial<OAuthTokens>;
  try {
    parsed = JSON.parse(text) as Partial<OAuthTokens>;
  } catch {
    throw new Error(`the Kit token store ${where} is not valid JSON`);
  }
  if (typeof parsed?.accessToken !== 'string' || parsed.accessToken === '') return null;
  return {
    accessToken: parsed.accessToken,
    refreshToken: typeof parsed.refreshToken === 'string' ? parsed.refreshToken : undefined,
    seed: typeof parsed.seed === 'string' ? parsed.seed : undefined,
    rotatedAt: typeof parsed.rotatedAt === 'string' ? parsed.rotatedAt : undefined,
  };
}

/** A JSON file, replaced atomically (temp file + rename) with mode 0600: readable by this service only. */
export class FileTokenStore implements TokenStore {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<OAuthTokens | null> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read the Kit token store ${this.file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    return parseStoredTokens(text, this.file);
  }

  /** Saves are serialised so two rotations in a row land in order. */
  save(tokens: OAuthTokens): Promise<void> {
    const next = this.writing.then(() => this.write(tokens));
    this.writing = next.catch(() => {});
    return next;
  }

  private async write(tokens: OAuthTokens): Promise<void> {
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `.${path.basename(this.file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(tokens, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }
}

/**
 * The store a client uses when it is given none: the file named by the OAuth credentials (KIT_TOKEN_STORE), if
 * any. The one place that default is decided (the service adds only the Redis-backed choice).
 */
export function defaultTokenStore(credentials: KitCredentials): TokenStore | undefined {
  return credentials.kind === 'oauth' && credentials.tokenStorePath
    ? new FileTokenStore(credentials.tokenStorePath)
    : undefined;
}
