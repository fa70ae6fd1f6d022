// Kit stores email addresses trimmed and lower-cased and treats them case-insensitively, so every lookup and
// uniqueness check goes through normaliseEmail.

const EMAIL_SHAPE = /^[^@\s]+@[^@\s]+\.[^@\s.]+$/;

export function normaliseEmail(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const email = raw.trim().toLowerCase();
  return EMAIL_SHAPE.test(email) ? email : null;
}
