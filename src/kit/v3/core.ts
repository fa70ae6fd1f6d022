import {
  type Answer,
  KitCaller,
  type KitCallerOptions,
  type PlainRequest,
  type Refusal,
  type UniqueNameRequest,
} from '../caller';
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

  call<T>(req: PlainRequest<T>, opts?: CallOptions): Promise<Answer<T>> {
    return this.caller.call(signed(req, this.apiSecret), opts);
  }

  async data<T>(req: PlainRequest<T>, opts?: CallOptions): Promise<T> {
    return (await this.call(req, opts)).data;
  }

  /** call, a 404 answered as a Refusal instead of thrown. */
  callAccepting404<T>(req: PlainRequest<T>, opts?: CallOptions): Promise<Answer<T> | Refusal> {
    return this.caller.callAccepting(signed(req, this.apiSecret), opts, (s) => s === 404);
  }

  createOrFind<T>(
    req: UniqueNameRequest<T>,
    opts: CallOptions | undefined,
    lookup: () => Promise<T | undefined>,
    clash: 'find' | 'own',
  ) {
    return this.caller.createOrFind(signed(req, this.apiSecret), opts, lookup, clash);
  }
}
