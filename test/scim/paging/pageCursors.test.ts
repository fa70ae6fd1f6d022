import { PageCursors } from '../../../src/scim/paging/pageCursors';
import { ScimBadRequest } from '../../../src/scim/errors';

// RFC 9865 cursors: signed positions in Kit's walk, bound to one query, expiring after cursorTimeout.

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

describe('PageCursors', () => {
  let now = 1_800_000_000_000;
  const cursors = new PageCursors(KEY, { ttlSeconds: 60, now: () => now });

  it('reads back the position it issued, on any instance holding the same key', () => {
    const cursor = cursors.issue('Users|q', { after: 'WzEwMDBd', skip: 300 });
    expect(cursors.read(cursor, 'Users|q')).toEqual({ after: 'WzEwMDBd', skip: 300 });
    const replica = new PageCursors(Buffer.alloc(32, 7), { ttlSeconds: 60, now: () => now });
    expect(replica.read(cursor, 'Users|q')).toEqual({ after: 'WzEwMDBd', skip: 300 });
  });

  it('refuses an altered cursor, another key, another query and garbage as invalidCursor', () => {
    const cursor = cursors.issue('Users|q', { after: null, skip: 10 });
    const [body, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(body, 'base64url').toString()).with(3, 0)));
    expect(scimTypeOf(() => cursors.read(`${forged.toString('base64url')}.${mac}`, 'Users|q'))).toBe('invalidCursor');
    const other = new PageCursors(Buffer.alloc(32, 8), { ttlSeconds: 60, now: () => now });
    expect(scimTypeOf(() => other.read(cursor, 'Users|q'))).toBe('invalidCursor');
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|other'))).toBe('invalidCursor');
    for (const junk of ['x', '.', 'a.b', `${body}.`, 'x'.repeat(5000)]) {
      expect(scimTypeOf(() => cursors.read(junk, 'Users|q'))).toBe('invalidCursor');
    }
  });

  it('says expiredCursor once cursorTimeout has passed since it was issued', () => {
    const cursor = cursors.issue('Users|q', { after: null, skip: 0 });
    now += 59_000;
    expect(cursors.read(cursor, 'Users|q')).toEqual({ after: null, skip: 0 });
    now += 2_000;
    expect(scimTypeOf(() => cursors.read(cursor, 'Users|q'))).toBe('expiredCursor');
  });
});
