// One write at a time claims a userName that is not an email. Kit keys subscribers by email only and has no
// uniqueness on a custom field, so the server's own check (users.ts, assertUserNameFree) is the only guard:
// two writes that check the same name at once would both find it free. A claim serializes them, so that the
// second finds the first's user and is a 409 uniqueness (RFC 7644 §3.3).

export interface UserNameClaims {
  /** Runs `work` while holding the claim on one userName (its identity key, identity.ts). */
  holding<T>(identityKey: string, work: () => Promise<T>): Promise<T>;
}

/** Claims among the writes of this process: enough for one replica (no Redis). */
export class LocalUserNameClaims implements UserNameClaims {
  /** The write holding each name now, by identity key; later ones queue behind it. */
  private readonly holders = new Map<string, Promise<void>>();

  async holding<T>(identityKey: string, work: () => Promise<T>): Promise<T> {
    const run = (this.holders.get(identityKey) ?? Promise.resolve()).then(work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.holders.set(identityKey, settled);
    try {
      return await run;
    } finally {
      if (this.holders.get(identityKey) === settled) this.holders.delete(identityKey);
    }
  }

  /** Names being claimed now. */
  get size(): number {
    return this.holders.size;
  }
}
