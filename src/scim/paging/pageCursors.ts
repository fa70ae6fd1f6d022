import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ScimBadRequest } from '../errors';

// Cursors of RFC 9865 (cursor-based pagination): opaque to the client, tamper-proof, valid on any replica.
// A cursor names a position in Kit's own cursor walk (Kit's `after` cursor, and how many rows of that Kit page
// were already answered), the query it belongs to (a digest of the resource type, filter and sort), the page size
// the walk was started with (RFC 9865 §2.1: a later page must ask for the same count) and when it expires. It is signed with HMAC-SHA256 under a key every replica of a tenant derives from the same configured
// secret (app/tenantScim.ts), so nothing is stored per cursor and any replica can continue any walk.

export interface CursorPosition {
  /** Kit's `after` cursor of the page to read (null: the first page). */
  after: string | null;
  /** Rows of that page's visible rows already answered. */
  skip: number;
}

/** Where a walk stands and the page size it was started with. */
export interface CursorWalk extends CursorPosition {
  count: number;
}

export interface PageCursorOptions {
  /** RFC 9865 §4 cursorTimeout: the least number of seconds a cursor stays usable after it was issued. */
  ttlSeconds: number;
  now: () => number;
}

/** RFC 9865 §4 cursorTimeout (seconds): long enough for a reconciliation's pause between two pages. */
export const CURSOR_TIMEOUT_SECONDS = 3600;

/** A cursor longer than this is no cursor of this server's (its Kit cursor part is tens of characters). */
const MAX_CURSOR_LENGTH = 1024;
const VERSION = 2;

export class PageCursors {
  constructor(
    private readonly key: Buffer,
    private readonly options: PageCursorOptions,
  ) {}

  get timeoutSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * A cursor for the walk at `position`, valid for at least ttlSeconds (RFC 9865 §4 makes cursorTimeout a
   * minimum): the expiry is rounded up to the next whole second, never down. base64url and "." only, which are
   * all in RFC 3986 §2.3's unreserved set, as RFC 9865 §2 requires of a cursor value.
   */
  issue(scope: string, position: CursorWalk): string {
    const expires = Math.ceil(this.options.now() / 1000) + this.options.ttlSeconds;
    const body = Buffer.from(
      JSON.stringify([VERSION, scopeDigest(scope), position.after, position.skip, position.count, expires]),
    ).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /**
   * The position a cursor names. RFC 9865 §2.1 (errors): 400 `invalidCursor` for a cursor this server did not
   * issue (malformed, altered, or issued for another query), 400 `expiredCursor` for one past its timeout,
   * 400 `invalidCount` when `count` is not the count the walk was started with.
   */
  read(cursor: string, scope: string, count: number): CursorPosition {
    const invalid = () =>
      new ScimBadRequest('invalidCursor', 'The cursor is not one this server issued for this query.');
    if (cursor.length > MAX_CURSOR_LENGTH) throw invalid();
    const dot = cursor.indexOf('.');
    if (dot <= 0) throw invalid();
    const body = cursor.slice(0, dot);
    const given = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    if (!Array.isArray(fields) || fields.length !== 6 || fields[0] !== VERSION) throw invalid();
    const [, digest, after, skip, walkCount, expires] = fields as unknown[];
    if (digest !== scopeDigest(scope)) throw invalid();
    if ((after !== null && typeof after !== 'string') || !Number.isSafeInteger(skip) || (skip as number) < 0) {
      throw invalid();
    }
    if (typeof walkCount !== 'number') throw invalid();
    if (typeof expires !== 'number' || expires * 1000 < this.options.now()) {
      throw new ScimBadRequest('expiredCursor', 'The cursor has expired: start again with an empty cursor.');
    }
    if (walkCount !== count) {
      throw new ScimBadRequest(
        'invalidCount',
        `count must be the count of the walk's first page (${walkCount}) on every page of it, got ${count}.`,
      );
    }
    return { after, skip: skip as number };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

function scopeDigest(scope: string): string {
  return createHash('sha256').update(scope).digest('base64url').slice(0, 16);
}
