import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../platform/clock';
import type { Outbox } from './outbox';
import type { EventReceiver } from './publisher';
import type { EventSigner } from './signer';

// RFC 8936 (poll-based SET delivery) for the configured receivers, and the JWKS they verify SETs with.
//
//   POST /scim/v2/Events           body {ack?, setErrs?, maxEvents?, returnImmediately?}  → {sets, moreAvailable}
//   GET  /scim/v2/Events/jwks.json the public signing keys (no credential: they are public)
//
// Mounted before the SCIM router: a receiver's token is not a SCIM credential and grants nothing else.

export const EVENTS_PATH = '/scim/v2/Events';
export const JWKS_PATH = '/scim/v2/Events/jwks.json';

/** How often a long poll looks at a shared (Redis) queue again, for SETs other replicas queued. */
export const LONG_POLL_RECHECK_MS = 500;

export interface PollRouteOptions {
  receivers: EventReceiver[];
  outbox: Outbox;
  clock: Clock;
  signer: EventSigner;
  logger: Logger;
  /** Longest a long poll (returnImmediately false) is held open. */
  maxWaitMs: number;
  /** Most SETs one answer carries, whatever maxEvents asks. */
  maxEventsPerPoll: number;
  onAcked?: (receiver: string, count: number) => void;
  onRejected?: (receiver: string, count: number) => void;
}

/** RFC 8935 §2.4 / RFC 8936 §2.4.4 error body: `err` from the "Security Event Token Error Codes" registry. */
function setError(res: Response, status: number, err: string, description: string): void {
  res.status(status).type('application/json').send(JSON.stringify({ err, description }));
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The receiver whose token `authorization` carries (Bearer), if any: a synchronous comparison of every token. */
export function receiverFor(
  receivers: readonly EventReceiver[],
  authorization: string | undefined,
): EventReceiver | undefined {
  const m = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
  if (!m) return undefined;
  return receivers.find((r) => sameToken(r.token, m[1]!));
}

function isJtiList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((j) => typeof j === 'string' && j.length > 0 && j.length <= 200);
}

export function eventRoutes(o: PollRouteOptions): express.Router {
  const router = express.Router();
  router.get(JWKS_PATH, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/jwk-set+json').send(JSON.stringify(o.signer.jwks()));
  });

  const receiverOf = (req: Request) => receiverFor(o.receivers, req.headers.authorization);
  // The receiver the first handler authenticated, for the one after the body parser.
  const authenticated = new WeakMap<Request, EventReceiver>();

  router.post(
    EVENTS_PATH,
    (req, res, next) => {
      const receiver = receiverOf(req);
      if (!receiver) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="scim-events"');
        setError(res, 401, 'authentication_failed', 'A receiver token is required (Authorization: Bearer).');
        return;
      }
      authenticated.set(req, receiver);
      next();
    },
    express.json({ type: () => true, limit: 256 * 1024 }),
    async (req: Request, res: Response) => {
      const receiver = authenticated.get(req)!;
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body !== 'object' || Array.isArray(body)) {
        setError(res, 400, 'invalid_request', 'The body must be a JSON object (RFC 8936 §2.4).');
        return;
      }
      const { ack = [], setErrs = {}, maxEvents, returnImmediately = false } = body;
      if (!isJtiList(ack)) {
        setError(res, 400, 'invalid_request', '"ack" must be an array of jti strings.');
        return;
      }
      if (typeof setErrs !== 'object' || setErrs === null || Array.isArray(setErrs)) {
        setError(res, 400, 'invalid_request', '"setErrs" must be an object keyed by jti.');
        return;
      }
      if (maxEvents !== undefined && !(Number.isInteger(maxEvents) && (maxEvents as number) >= 0)) {
        setError(res, 400, 'invalid_request', '"maxEvents" must be a whole number ≥ 0.');
        return;
      }
      if (typeof returnImmediately !== 'boolean') {
        setError(res, 400, 'invalid_request', '"returnImmediately" must be a boolean.');
        return;
      }
      const acked = await o.outbox.settle(receiver.name, ack);
      if (acked.length) o.onAcked?.(receiver.name, acked.length);
      const errJtis = Object.keys(setErrs);
      const rejected = await o.outbox.settle(receiver.name, errJtis);
      if (rejected.length) {
        o.onRejected?.(receiver.name, rejected.length);
        // The receiver's reasons are its own words about our SETs: logged (jti and code), never echoed back.
        for (const jti of errJtis.slice(0, 20)) {
          const e = (setErrs as Record<string, unknown>)[jti] as { err?: unknown } | undefined;
          o.logger.warn(
            { receiver: receiver.name, jti: jti.slice(0, 64), err: String(e?.err ?? '').slice(0, 64) },
            'security event rejected by its receiver',
          );
        }
      }
      // RFC 8936 §2.4: maxEvents 0 acknowledges only; no maxEvents means the transmitter chooses.
      const max = Math.min(maxEvents === undefined ? o.maxEventsPerPoll : (maxEvents as number), o.maxEventsPerPoll);
      let sets = max > 0 ? await o.outbox.take(receiver.name, max) : [];
      if (sets.length === 0 && max > 0 && !returnImmediately) {
        // Long poll, bounded: answer as soon as something is queued, or empty after maxWaitMs. A SET queued by
        // another replica wakes no one here: the queue is looked at again at least every LONG_POLL_RECHECK_MS.
        let closed = false;
        res.once('close', () => (closed = true));
        const deadline = o.clock.now() + o.maxWaitMs;
        while (sets.length === 0 && !closed && o.clock.now() < deadline) {
          await o.outbox.waitFor(receiver.name, Math.min(LONG_POLL_RECHECK_MS, deadline - o.clock.now()));
          if (!closed) sets = await o.outbox.take(receiver.name, max);
        }
        if (closed) return;
      }
      res
        .status(200)
        .type('application/json')
        .send(
          JSON.stringify({
            sets: Object.fromEntries(sets.map((s) => [s.jti, s.jwt])),
            moreAvailable: await o.outbox.available(receiver.name),
          }),
        );
    },
  );
  // A body that is not JSON: RFC 8936's error, not a SCIM one (the caller is a SET receiver).
  router.use(EVENTS_PATH, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number }).status;
    if (status === 413) return setError(res, 413, 'invalid_request', 'The body is too large.');
    setError(res, 400, 'invalid_request', 'The body is not valid JSON.');
  });
  return router;
}
