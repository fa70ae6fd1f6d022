import { KitCaller, type KitCallerOptions } from '../caller';
import type { KitRequest } from '../transport';
import type { CallOptions } from '../types';
import { secretRedactor, signed } from './signing';

// The one caller every v3 resource module goes through: v4's KitCaller (limiter, retries, the KitError family)
// with the api_secret added as a parameter to every request and masked in whatever the transport reports.

export type V3CallerOptions = Omit<KitCallerOptions, 'credentials' | 'tokenStore'>;

export class V3Core {
  readonly caller: KitCaller;
  /** Field keys of the account, for the echo check of writes (see fieldEcho.ts). */
  fieldKeys?: Set<string>;

  constructor(
    opts: V3CallerOptions,
    private readonly apiSecret: string,
  ) {
    this.caller = new KitCaller({
      ...opts,
      credentials: { kind: 'v3Secret', apiSecret },
      redact: secretRedactor(apiSecret),
    });
  }

  call(req: KitRequest, opts?: CallOptions, accept404 = false) {
    return this.caller.call(signed(req, this.apiSecret), opts, accept404 ? { acceptStatus: (s) => s === 404 } : {});
  }

  createOrFind<T>(
    req: KitRequest,
    opts: CallOptions | undefined,
    read: (d: any) => T,
    lookup: () => Promise<T | undefined>,
    clash: 'find' | 'own',
  ) {
    return this.caller.createOrFind(signed(req, this.apiSecret), opts, read, lookup, clash);
  }
}
