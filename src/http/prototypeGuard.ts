import type { NextFunction, Request, RequestHandler, Response } from 'express';

// Defence in depth against hostile input. Input that names `__proto__`, `constructor` or `prototype` is refused before
// any library parses it (src/scim/inputLimits.ts), but a dependency could still find another way to write to a
// built-in prototype, and a property there shows up in every object of the process (prom-client then threw on
// every metric update and the process exited). Freezing the prototypes at start-up was considered and rejected:
// it breaks ordinary code that assigns an own `toString` or `constructor` (the "override mistake"), in
// dependencies we do not control. Instead, after every request this guard compares the built-in prototypes
// with their keys at start-up, deletes what appeared, and logs it with the request id, so one bad request
// cannot leave the process poisoned for the next.

const GUARDED: ReadonlyArray<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['Number.prototype', Number.prototype],
  ['Boolean.prototype', Boolean.prototype],
];

export interface PrototypeWrite {
  prototype: string;
  keys: string[];
}

export class PrototypeGuard {
  private readonly baseline = new Map<object, Set<string | symbol>>(
    GUARDED.map(([, proto]) => [proto, new Set(Reflect.ownKeys(proto))]),
  );

  /** Removes properties added to a built-in prototype since start-up; returns what it removed. */
  restore(): PrototypeWrite[] {
    const found: PrototypeWrite[] = [];
    for (const [name, proto] of GUARDED) {
      const known = this.baseline.get(proto)!;
      const added = Reflect.ownKeys(proto).filter((k) => !known.has(k));
      if (added.length === 0) continue;
      for (const key of added) Reflect.deleteProperty(proto, key);
      found.push({ prototype: name, keys: added.map((k) => String(k).slice(0, 60)) });
    }
    return found;
  }

  /** Checks after every response (cheap: a few dozen keys) and reports any write it had to undo. */
  middleware(onWrite: (writes: PrototypeWrite[], req: Request) => void): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      res.once('close', () => {
        const writes = this.restore();
        if (writes.length > 0) onWrite(writes, req);
      });
      next();
    };
  }
}
