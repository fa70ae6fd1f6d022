import type { AccountDirectory } from '../accountDirectory';
import type { HostedAccount } from '../hostedAccount';
import type { RateLimit } from '../rateWindow';
import { notFound, Rejection } from '../rejection';
import type { Exchange, Route } from '../router';
import { type SeedPlan, seedAccount } from '../seedPlan';
import { idParam } from './context';

// Admin routes for the accounts one sandbox hosts: add one (a process that needs a second Kit account, e.g.
// the server's tenants, cannot call createAccount), list them with their keys, seed one and read its call log,
// and revoke or restore a key or secret.

export interface AccountAdministration {
  directory: AccountDirectory;
  /** Throws when the key or secret is taken, or the rate limit is invalid. */
  create(opts: { apiKey?: string; apiSecret?: string; rateLimit?: RateLimit }): HostedAccount;
}

const optionalCredential = (body: Record<string, unknown>, name: string): string | undefined => {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new Rejection(400, `${name} must be a non-empty string`);
  return v;
};

export function accountAdminRoutes({ directory, create }: AccountAdministration): Route[] {
  const describe = (a: HostedAccount) => ({
    id: a.id,
    apiKey: a.apiKey,
    apiSecret: a.apiSecret,
    revoked: directory.isRevoked(a.apiKey) || directory.isRevoked(a.apiSecret),
    rateLimit: a.rateWindow.current,
    counts: a.store.counts(),
  });
  const accountOf = (x: Exchange): HostedAccount => {
    const account = directory.byId(idParam(x, 'id'));
    if (!account) throw notFound();
    return account;
  };
  const credentialOf = (x: Exchange): string => {
    const credential = x.params.credential;
    if (!directory.owner(credential)) throw new Rejection(404, 'No account has that API key or secret');
    return credential;
  };

  return [
    {
      method: 'POST',
      pattern: '/__sandbox/accounts',
      handle: ({ body }) => {
        const apiKey = optionalCredential(body, 'apiKey');
        const apiSecret = optionalCredential(body, 'apiSecret');
        for (const credential of [apiKey, apiSecret]) {
          if (credential !== undefined && directory.owner(credential)) {
            throw new Rejection(409, 'That API key or secret is already in use');
          }
        }
        try {
          const rateLimit = body.rateLimit === undefined ? undefined : (body.rateLimit as RateLimit);
          return { status: 201, body: describe(create({ apiKey, apiSecret, rateLimit })) };
        } catch (e) {
          throw new Rejection(400, (e as Error).message);
        }
      },
    },
    {
      method: 'GET',
      pattern: '/__sandbox/accounts',
      handle: () => ({ status: 200, body: { accounts: directory.all().map(describe) } }),
    },
    {
      method: 'POST',
      pattern: '/__sandbox/accounts/:id/seed',
      handle: (x) => {
        const account = accountOf(x);
        try {
          return { status: 201, body: seedAccount(account.store, x.body as SeedPlan) };
        } catch (e) {
          throw e instanceof Rejection ? e : new Rejection(400, (e as Error).message);
        }
      },
    },
    {
      method: 'GET',
      pattern: '/__sandbox/accounts/:id/calls',
      handle: (x) => ({ status: 200, body: accountOf(x).calls.stats() }),
    },
    {
      method: 'DELETE',
      pattern: '/__sandbox/accounts/:id/calls',
      handle: (x) => {
        accountOf(x).calls.reset();
        return { status: 204 };
      },
    },
    {
      // The key (or v3 secret) answers Kit's 401 from now on, as an unknown one does.
      method: 'PUT',
      pattern: '/__sandbox/revoked-keys/:credential',
      handle: (x) => {
        directory.revoke(credentialOf(x));
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      pattern: '/__sandbox/revoked-keys/:credential',
      handle: (x) => {
        directory.restore(credentialOf(x));
        return { status: 204 };
      },
    },
  ];
}
