// The comparison key of an identity: a group (tag) name, a userName, an email address. Two identities with the
// same key are one identity to a person reading them, and to Kit: Kit lower-cases email addresses and keeps tag
// names unique regardless of letter case. Without the key, "\u200bscim:deleted-users" or "ｓcim:deleted-users"
// (a fullwidth s) would pass for a name other than the reserved "scim:deleted-users", and "Sales\u200b" for a
// group other than "Sales". Pure: no I/O, no configuration.

/**
 * Characters that render as nothing: Unicode's Default_Ignorable_Code_Point (zero-width space, joiners, word
 * joiner, soft hyphen, variation selectors, fillers) and the format characters (Cf: the BOM, bidi controls).
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;
const HAS_INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;

/**
 * Passes of the key's steps before it settles. One pass is usually enough; a second is needed where a step
 * undoes another: NFKC can yield capitals ("㎁" becomes "nA") or a filler (U+FFA0 becomes U+3164, itself
 * invisible), and removing an invisible character can bring a base letter and a combining mark together.
 */
const MAX_PASSES = 4;

/**
 * The key two identities are compared by: invisible characters removed, Unicode NFKC (compatibility forms such
 * as fullwidth letters folded to their plain letters), letter case folded, surrounding whitespace trimmed (Kit
 * trims tag names and email addresses). Idempotent. Linear in the input's length: callers bound that length.
 */
export function identityKey(text: string): string {
  let key = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const next = key.normalize('NFKC').replace(INVISIBLE, '').toLowerCase().trim();
    if (next === key) break;
    key = next;
  }
  return key;
}

/** Whether two identities are one once compared by their keys. */
export function sameIdentity(a: string, b: string): boolean {
  return a === b || identityKey(a) === identityKey(b);
}

/** Whether the text holds a character that renders as nothing. */
export function hasInvisibleCharacters(text: string): boolean {
  return HAS_INVISIBLE.test(text);
}

/** The invisible characters of a text as code points ("U+200B"), each once, at most `max` of them. */
export function invisibleCodePoints(text: string, max = 5): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(INVISIBLE)) {
    found.add(`U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
    if (found.size >= max) break;
  }
  return [...found];
}

/**
 * Why Kit could not hold this email address as the client wrote it, or undefined when it can. An address with
 * an invisible character or a compatibility form (a fullwidth letter, a ligature) would be stored by Kit as a
 * second subscriber that reads the same as another, so such an address is refused rather than silently
 * rewritten: the IdP goes on matching on the address it sent, which would then never be the one Kit holds.
 */
export function emailDefect(email: string): string | undefined {
  if (hasInvisibleCharacters(email)) {
    return `contains invisible characters (${invisibleCodePoints(email).join(', ')})`;
  }
  if (email.normalize('NFKC') !== email) {
    return 'contains compatibility characters (such as fullwidth letters) that Unicode NFKC writes differently';
  }
  return undefined;
}
