// Kit's cursors are base64 of a JSON array ("WzE0MV0=" is "[141]"). We keep that shape so cursors look like
// Kit's, and put the sort key in them (never an offset) so a walk stays correct while rows are inserted.

export type CursorPayload = Array<number | string>;

export function encodeCursor(payload: CursorPayload): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');
}

/** null when the text is not a cursor we issued. */
export function decodeCursor(text: string): CursorPayload | null {
  // A client that pastes a cursor into a URL without encoding it turns '+' into a space; undo that.
  const base64 = text.trim().replace(/ /g, '+');
  try {
    const value: unknown = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
    if (!Array.isArray(value) || value.length === 0) return null;
    if (!value.every((v) => typeof v === 'number' || typeof v === 'string')) return null;
    return value as CursorPayload;
  } catch {
    return null;
  }
}
