import { AccountDirectory } from '../src/accountDirectory';
import { HostedAccount } from '../src/hostedAccount';
import { SandboxStore } from '../src/store';

// Which account a credential names, and what revoking one does, without a socket.

const now = () => Date.UTC(2024, 0, 15);
const account = (id: number, apiKey: string, apiSecret: string) =>
  new HostedAccount({
    id,
    apiKey,
    apiSecret,
    store: new SandboxStore(now, { id }),
    rateLimit: { max: 120, windowMs: 60_000 },
    now,
  });

describe('AccountDirectory', () => {
  it('finds an account by its API key or its v3 secret, each only in its own role', () => {
    const directory = new AccountDirectory();
    const a = account(1, 'key-a', 'secret-a');
    const b = account(2, 'key-b', 'secret-b');
    directory.add(a);
    directory.add(b);
    expect(directory.byApiKey('key-b')).toBe(b);
    expect(directory.byApiSecret('secret-a')).toBe(a);
    expect(directory.byApiKey('secret-a')).toBeUndefined();
    expect(directory.byApiSecret('key-a')).toBeUndefined();
    expect(directory.byApiKey('key-c')).toBeUndefined();
    expect(directory.byId(2)).toBe(b);
    expect(directory.all()).toEqual([a, b]);
  });

  it('refuses a key or secret that already names an account, in either role', () => {
    const directory = new AccountDirectory();
    directory.add(account(1, 'key-a', 'secret-a'));
    expect(() => directory.add(account(2, 'key-a', 'secret-b'))).toThrow(/already in use/);
    expect(() => directory.add(account(2, 'secret-a', 'secret-b'))).toThrow(/already in use/);
    expect(() => directory.add(account(2, 'same', 'same'))).toThrow(/different secret/);
    expect(directory.all()).toHaveLength(1);
  });

  it('stops authenticating a revoked credential but still knows whose it is, until it is restored', () => {
    const directory = new AccountDirectory();
    const a = account(1, 'key-a', 'secret-a');
    directory.add(a);
    directory.revoke('key-a');
    expect(directory.byApiKey('key-a')).toBeUndefined();
    expect(directory.byApiSecret('secret-a')).toBe(a);
    expect(directory.owner('key-a')).toBe(a);
    expect(directory.isRevoked('key-a')).toBe(true);
    directory.restore('key-a');
    expect(directory.byApiKey('key-a')).toBe(a);
    expect(() => directory.revoke('never-issued')).toThrow(/no account/);
  });
});

describe('HostedAccount', () => {
  it('binds the same endpoints to its own store', async () => {
    const a = account(1, 'key-a', 'secret-a');
    const b = account(2, 'key-b', 'secret-b');
    b.store.createTag('Only in B');
    const list = (x: HostedAccount) =>
      x.route('GET /v4/tags')!.handle({ params: {}, query: new URLSearchParams(), body: {} });
    expect(((await list(a)).body as { tags: unknown[] }).tags).toEqual([]);
    expect(((await list(b)).body as { tags: Array<{ name: string }> }).tags.map((t) => t.name)).toEqual(['Only in B']);
    expect(a.route('POST /oauth/token')).toBeUndefined();
    expect(b.route('GET /v3/account')).toBeDefined();
  });
});
