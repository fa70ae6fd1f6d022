// What a Group write reports: to its caller (members skipped) and to whoever listens (metrics, audit, security
// events).

export interface GroupChange {
  /** Members named in the request that are not users (unknown, deleted, or not a subscriber id): skipped. */
  skipped: string[];
}

/** A Group change made through SCIM, for the security events: which write, and the attributes it changed. */
export interface GroupWrite {
  groupId: string;
  kind: 'created' | 'patched' | 'replaced' | 'deleted';
  /** `displayName` and/or `members` (names only). */
  attributes: string[];
}

export interface GroupEvents {
  changed(): Promise<void>;
  /** After a SCIM write to a group succeeded (one security event per change); must not throw. */
  written?(write: GroupWrite): void;
  membersSkipped(groupId: string, ids: string[]): void;
}
