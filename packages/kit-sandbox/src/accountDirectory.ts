import type { HostedAccount } from './hostedAccount';

// Which hosted account a credential belongs to. Every v4 API key and v3 api_secret names exactly one account,
// so keys and secrets share one namespace. A revoked credential stays known (the call log still charges its
// calls to its account) but no longer authenticates: Kit answers it exactly as an unknown one.

export class AccountDirectory {
  private readonly accounts: HostedAccount[] = [];
  private readonly byCredential = new Map<string, HostedAccount>();
  private readonly revoked = new Set<string>();

  /** Throws when the account's key or secret already belongs to an account. */
  add(account: HostedAccount): void {
    if (account.apiKey === account.apiSecret) throw new Error('an account needs an API key and a different secret');
    for (const credential of [account.apiKey, account.apiSecret]) {
      if (this.byCredential.has(credential)) throw new Error('that API key or secret is already in use');
    }
    this.accounts.push(account);
    this.byCredential.set(account.apiKey, account);
    this.byCredential.set(account.apiSecret, account);
  }

  all(): HostedAccount[] {
    return [...this.accounts];
  }

  byId(id: number): HostedAccount | undefined {
    return this.accounts.find((a) => a.id === id);
  }

  /** The account whose live (not revoked) v4 API key this is; v3 sends the same key as its api_key. */
  byApiKey(key: string): HostedAccount | undefined {
    const account = this.owner(key);
    return account?.apiKey === key && !this.revoked.has(key) ? account : undefined;
  }

  /** The account whose live v3 api_secret this is. */
  byApiSecret(secret: string): HostedAccount | undefined {
    const account = this.owner(secret);
    return account?.apiSecret === secret && !this.revoked.has(secret) ? account : undefined;
  }

  /** The account a key or secret was issued to, revoked or not. */
  owner(credential: string | undefined): HostedAccount | undefined {
    return credential === undefined ? undefined : this.byCredential.get(credential);
  }

  /** Throws for a credential no account was issued. */
  revoke(credential: string): void {
    this.known(credential);
    this.revoked.add(credential);
  }

  restore(credential: string): void {
    this.known(credential);
    this.revoked.delete(credential);
  }

  isRevoked(credential: string): boolean {
    return this.revoked.has(credential);
  }

  private known(credential: string): void {
    if (!this.byCredential.has(credential)) throw new Error('no account has that API key or secret');
  }
}
