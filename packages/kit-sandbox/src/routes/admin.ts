import type { BulkQueue } from '../bulkQueue';
import type { CallLog } from '../callLog';
import type { FaultInjector, Faults } from '../faults';
import type { OAuthAuthority } from '../oauth';
import type { RateLimit, RollingRateWindow } from '../rateWindow';
import { Rejection } from '../rejection';
import type { Route } from '../router';
import { type SeedPlan, seedAccount } from '../seedPlan';
import type { SandboxStore } from '../store';
import { accountAdminRoutes, type AccountAdministration } from './accountAdmin';

// Out-of-process control of the sandbox (benchmarks, multi-process tests, `npm run sandbox`). Mounted under
// /__sandbox behind the X-Sandbox-Admin header; never counted, rate-limited or faulted. Except for the
// accounts routes (accountAdmin.ts), they act on the default account.

export interface AdminParts {
  store: SandboxStore;
  calls: CallLog;
  faults: FaultInjector;
  rateWindow: RollingRateWindow;
  oauth: OAuthAuthority | null;
  bulk: BulkQueue;
  accounts: AccountAdministration;
}

export const badRequest = (e: unknown): Rejection =>
  e instanceof Rejection ? e : new Rejection(400, (e as Error).message);

export function adminRoutes({ store, calls, faults, rateWindow, oauth, bulk, accounts }: AdminParts): Route[] {
  return [
    ...accountAdminRoutes(accounts),
    { method: 'GET', pattern: '/__sandbox/calls', handle: () => ({ status: 200, body: calls.stats() }) },
    {
      method: 'DELETE',
      pattern: '/__sandbox/calls',
      handle: () => {
        calls.reset();
        return { status: 204 };
      },
    },
    { method: 'GET', pattern: '/__sandbox/faults', handle: () => ({ status: 200, body: faults.current() }) },
    {
      method: 'PUT',
      pattern: '/__sandbox/faults',
      handle: ({ body }) => {
        try {
          return { status: 200, body: faults.set(body as Partial<Faults>) };
        } catch (e) {
          throw badRequest(e);
        }
      },
    },
    {
      method: 'DELETE',
      pattern: '/__sandbox/faults',
      handle: () => {
        faults.reset();
        return { status: 204 };
      },
    },
    { method: 'GET', pattern: '/__sandbox/rate-limit', handle: () => ({ status: 200, body: rateWindow.current }) },
    {
      method: 'PUT',
      pattern: '/__sandbox/rate-limit',
      handle: ({ body }) => {
        try {
          rateWindow.setLimit(body as unknown as RateLimit);
        } catch (e) {
          throw badRequest(e);
        }
        return { status: 200, body: rateWindow.current };
      },
    },
    {
      method: 'POST',
      pattern: '/__sandbox/seed',
      handle: ({ body }) => {
        try {
          return { status: 201, body: seedAccount(store, body as SeedPlan) };
        } catch (e) {
          throw badRequest(e);
        }
      },
    },
    {
      // Clears the account and every credential's rate window; the call counters have their own DELETE.
      method: 'POST',
      pattern: '/__sandbox/reset',
      handle: () => {
        store.reset();
        rateWindow.reset();
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      pattern: '/__sandbox/expire-tokens',
      handle: () => {
        if (!oauth) throw new Rejection(409, 'OAuth is not configured on this sandbox');
        oauth.expireAccessTokens();
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: '/__sandbox/oauth-tokens',
      handle: () => {
        if (!oauth) throw new Rejection(404, 'OAuth is not configured on this sandbox');
        return { status: 200, body: oauth.latest() };
      },
    },
    {
      method: 'GET',
      pattern: '/__sandbox/state',
      handle: () => ({
        status: 200,
        body: {
          counts: store.counts(),
          rateLimit: rateWindow.current,
          faults: faults.current(),
          callbacks: bulk.deliveries(),
        },
      }),
    },
    {
      method: 'POST',
      pattern: '/__sandbox/bulk-idle',
      handle: async () => {
        await bulk.idle();
        return { status: 204 };
      },
    },
  ];
}
