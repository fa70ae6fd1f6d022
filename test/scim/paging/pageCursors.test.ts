import { PageCursors } from '../../../src/scim/paging/pageCursors';
import { ScimBadRequest } from '../../../src/scim/errors';

// RFC 9865 cursors: signed positions in Kit's walk, bound to one query and its count, valid for at least
// cursorTimeout.

const KEY = Buffer.alloc(32, 7);
const scimTypeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScimBadRequest) return err.scimType;
    throw err;
  }
  return undefined;
};

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = /^[A-Za-z0-9\-._~]+$/;

describe('PageCursors', () => {
  let now = 1_800_000_000_000;
  const cursors = new PageCursors(KEY, { ttlSeconds: 60, now: () => now });

  it('reads back the position it issued, on any instance holding the same key', () => {
    const cursor = cursors.issue('Users|q', { after: 'WzEwMDBd', skip: 300, count: 100 });
    expect(cursors.read(cursor, 'Users|q', 100)).toEqual({ after: 'WzEwMDBd', skip: 300 });
    const replica = new PageCursors(Buffer.alloc(32, 7), { ttlSeconds: 60, now: () => now });
    expect(replica.read(cursor, 'Users|q', 100)).toEqual({ after: 'WzEwMDBd', skip: 300 });
  });

  it('issues cursors of RFC 3986 unreserved characters only, whatever the Kit cursor holds', () => {
    for (const after of [null, 'WzEwMDBd', 'a+b/c=d', 'ü?&#%20 ']) {
      expect(cursors.issue('Users|q', { after, skip: 7, count: 1000 })).toMatch(UNRESERVED);
    }
  });

  it('refuses an altered cursor, another key, another query and garbage as invalidCursor', () => {
    const cursor = cursors.issue('Users|q', { after: null, skip: 10, count: 10 });
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(body, 'base64url').toString()).with(3, 0)));
    expect(scimTypeOf(() => cursors.read(`${forged.toString('base64url')}.${mac}`, 'Users|q', 10))).toBe(
      'invalidCursor',
    );
    const other = new PageCursors(Buffer.alloc(32, 8), { ttlSeconds: 60, now: () => now });
    expect(scimTypeOf(() => other.read(cursor, 'Users|q', 10))).toBe('invalidCursor');
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|other', 10))).toBe('invalidCursor');
    for (const junk of ['x', '.', 'a.b', `${body}.`, 'x'.repeat(5000)]) {
      expect(scimTypeOf(() => cursors.read(junk, 'Users|q', 10))).toBe('invalidCursor');
    }
  });

  it('says invalidCount when the count differs from the one the walk started with', () => {
    const cursor = cursors.issue('Users|q', { after: null, skip: 10, count: 10 });
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|q', 11))).toBe('invalidCount');
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|q', 0))).toBe('invalidCount');
    expect(cursors.read(cursor, 'Users|q', 10)).toEqual({ after: null, skip: 10 });
  });

  it('says expiredCursor once cursorTimeout has passed since it was issued', () => {
    const cursor = cursors.issue('Users|q', { after: null, skip: 0, count: 5 });
    now += 59_000;
    expect(cursors.read(cursor, 'Users|q', 5)).toEqual({ after: null, skip: 0 });
    now += 2_000;
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|q', 5))).toBe('expiredCursor');
  });

  it('keeps a cursor valid for at least cursorTimeout, issued at any fraction of a second', () => {
    now = 1_800_000_000_999;
    const cursor = cursors.issue('Users|q', { after: null, skip: 0, count: 5 });
    now += 60_000;
    expect(cursors.read(cursor, 'Users|q', 5)).toEqual({ after: null, skip: 0 });
    now += 1_002;
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|q', 5))).toBe('expiredCursor');
  });
});
