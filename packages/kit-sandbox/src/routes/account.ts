import type { Route } from '../router';
import type { RouteContext } from './context';

export function accountRoutes({ store }: RouteContext): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v4/account',
      handle: () => ({
        status: 200,
        body: { user: { email: store.account.primary_email_address }, account: { ...store.account } },
      }),
    },
  ];
}
