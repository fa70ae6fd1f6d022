import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Clock } from './clock';
import type { KitCredentials } from './credentials';
import { type FaultInjector, faultMessage, MALFORMED_BODY } from './faults';
import type { HostedAccount } from './hostedAccount';
import { Rejection } from './rejection';
import { readBody } from './requestBody';
import type { Reply, Route, RouteMatch } from './router';
import { Router } from './router';
import { type V3Credentials, v3ErrorBody } from './v3/auth';

// The HTTP front of the sandbox. A Kit call goes: route match → authenticate (401) → rolling rate window (429)
// → injected faults (latency, dropped socket, failStatus) → body → handler (→ a malformed 200 in place of its
// answer, when injected); every call that matched a Kit
// route is counted with its final status. /oauth/token skips authentication and the rate window (Kit does not
// meter it). Admin routes under /__sandbox are neither counted, limited nor faulted.
// Several accounts share the server as they share Kit's base URL: the credential picks the account, whose own
// route, rate window and call log then serve the call. Calls with no or an unknown credential, and the open
// endpoints, are the default account's; a revoked key's refused calls are logged by the account it was issued to.

export const ADMIN_PREFIX = '/__sandbox';

export interface SandboxServerParts {
  /** Every Kit route, bound to the default account; other accounts serve the same endpoints. */
  kitRoutes: Route[];
  /** Kit routes reachable without a credential and outside the rate window; the default account serves them. */
  openEndpoints: Set<string>;
  adminRoutes: Route[];
  adminKey: string;
  credentials: KitCredentials;
  defaultAccount: HostedAccount;
  /** Sandbox-wide: the injected faults strike every account's calls. */
  faults: FaultInjector;
  now: Clock;
  /** How injected latency waits (a real timer by default); tests hand in one they release themselves. */
  sleep?: (ms: number) => Promise<void>;
  /** Where a handler failure is reported (console.error by default). */
  reportError?: (message: string, error: unknown) => void;
  /** Kit's v3 API on the same account: auth by parameter, `{error, message}` bodies (src/sandbox/v3/). */
  v3?: { credentials: V3Credentials };
}

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const payload = JSON.stringify(reply.body);
  headers['content-type'] = JSON_TYPE;
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

const kitError = (status: number, message: string, headers?: Record<string, string>): Reply => ({
  status,
  body: { errors: [message] },
  headers,
});

/**
 * The client hung up before its request body was read (a test's dropping proxy, a client timeout): reading
 * fails with "aborted". Nobody is waiting for an answer and nothing in the sandbox failed, so it is no error.
 */
function clientGone(req: IncomingMessage, e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ECONNRESET' && req.destroyed;
}

/** A handler's success replaced by a body that is not the shape Kit documents (the `malformedNext` fault). */
function malformed(reply: Reply): Reply {
  return reply.status >= 200 && reply.status < 300 ? { status: 200, body: MALFORMED_BODY } : reply;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const consoleReport = (message: string, error: unknown) => console.error(message, error);

export function createSandboxServer(parts: SandboxServerParts): Server {
  const kit = new Router(parts.kitRoutes);
  const admin = new Router(parts.adminRoutes);
  const sleep = parts.sleep ?? realSleep;
  const report = parts.reportError ?? consoleReport;

  /**
   * Applies the fault injected for this endpoint (latency, a dropped connection, a failure): 'answered' when it
   * answered the call, 'malformed' when the handler's answer is to be replaced (see malformed()).
   */
  async function injectedFault(
    endpoint: string,
    req: IncomingMessage,
    answer: (reply: Reply) => void,
  ): Promise<'answered' | 'malformed' | 'none'> {
    const fault = parts.faults.decide(endpoint);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.outcome.kind === 'drop') {
      req.socket.destroy();
      return 'answered';
    }
    if (fault.outcome.kind === 'fail') {
      const s = fault.outcome.status;
      answer(kitError(s, faultMessage(s), s === 429 || s === 503 ? { 'retry-after': '1' } : undefined));
      return 'answered';
    }
    return fault.outcome.kind === 'malformed' ? 'malformed' : 'none';
  }

  function replyForError(e: unknown, req: IncomingMessage): Reply {
    if (e instanceof Rejection) return { status: e.status, body: { errors: e.errors }, headers: e.headers };
    if (!clientGone(req, e)) report('[kit-sandbox] handler failed:', e);
    return kitError(500, 'Internal server error');
  }

  async function runHandler(
    route: Route | undefined,
    match: RouteMatch<Route>,
    req: IncomingMessage,
    query: URLSearchParams,
  ): Promise<Reply> {
    try {
      const body = await readBody(req);
      if (!route) return kitError(404, 'Not Found');
      return await route.handle({ params: match.params, query, body });
    } catch (e) {
      return replyForError(e, req);
    }
  }

  async function serveAdmin(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    if (req.headers['x-sandbox-admin'] !== parts.adminKey) {
      send(res, kitError(401, 'The X-Sandbox-Admin header must carry the sandbox API key'));
      return;
    }
    const match = admin.match(req.method ?? 'GET', path);
    send(res, match ? await runHandler(match.route, match, req, query) : kitError(404, 'Not Found'));
  }

  // ---- v3: the credential is a parameter, so the body is read before authentication ------------------------
  async function serveV3(req: IncomingMessage, res: ServerResponse, match: RouteMatch<Route>, query: URLSearchParams) {
    const v3 = parts.v3!;
    const at = parts.now();
    let credential = 'none';
    let account = parts.defaultAccount;
    let status = 0;
    const answer = (reply: Reply) => {
      status = reply.status;
      const errors = (reply.body as { errors?: string[] } | undefined)?.errors;
      send(res, reply.status >= 400 && errors ? { ...reply, body: v3ErrorBody(reply.status, errors) } : reply);
    };
    try {
      let body: Record<string, unknown>;
      try {
        body = await readBody(req);
      } catch (e) {
        answer(replyForError(e, req));
        return;
      }
      const caller = v3.credentials.identify(match.endpoint, query, body);
      if (!caller) {
        credential = v3.credentials.presentedLabel(query, body);
        account = v3.credentials.claimedAccount(query, body) ?? account;
        answer(kitError(401, v3.credentials.refusal(query, body)));
        return;
      }
      credential = caller.label;
      account = caller.account;
      const admission = account.rateWindow.admit(caller.key);
      if (!admission.accepted) {
        answer(kitError(429, 'Rate limit exceeded', { 'retry-after': String(admission.retryAfterSeconds) }));
        return;
      }
      const fault = await injectedFault(match.endpoint, req, answer);
      if (fault === 'answered') return;
      account.beforeV3Call();
      const route = account.route(match.endpoint);
      try {
        const { reply, answered } = await account.webhooks.aroundCall(async () =>
          route ? await route.handle({ params: match.params, query, body }) : kitError(404, 'Not Found'),
        );
        res.once('finish', answered);
        answer(fault === 'malformed' ? malformed(reply) : reply);
      } catch (e) {
        answer(replyForError(e, req));
      }
    } finally {
      account.calls.record({ at, credential, endpoint: match.endpoint, status });
    }
  }

  async function serveKit(req: IncomingMessage, res: ServerResponse, match: RouteMatch<Route>, query: URLSearchParams) {
    if (parts.v3 && match.route.pattern.startsWith('/v3/')) return serveV3(req, res, match, query);
    const at = parts.now();
    const open = parts.openEndpoints.has(match.endpoint);
    let credential = 'none';
    let account = parts.defaultAccount;
    let route: Route | undefined = match.route;
    let status = 0;
    const answer = (reply: Reply) => {
      status = reply.status;
      send(res, reply);
    };
    try {
      if (!open) {
        const caller = parts.credentials.identify(req.headers);
        if (!caller) {
          credential = parts.credentials.presentedLabel(req.headers);
          account = parts.credentials.claimedAccount(req.headers) ?? account;
          answer(kitError(401, 'The access token is invalid'));
          return;
        }
        credential = caller.label;
        account = caller.account;
        route = account.route(match.endpoint);
        const admission = account.rateWindow.admit(caller.key);
        if (!admission.accepted) {
          answer(
            kitError(429, 'Rate limit exceeded. Please wait and try again.', {
              'retry-after': String(admission.retryAfterSeconds),
            }),
          );
          return;
        }
      } else {
        credential = 'oauth-client';
      }
      const fault = await injectedFault(match.endpoint, req, answer);
      if (fault === 'answered') return;
      const { reply, answered } = await account.webhooks.aroundCall(() => runHandler(route, match, req, query));
      res.once('finish', answered);
      answer(fault === 'malformed' ? malformed(reply) : reply);
    } catch (e) {
      answer(replyForError(e, req));
    } finally {
      account.calls.record({ at, credential, endpoint: match.endpoint, status });
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kit-sandbox');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    let work: Promise<void>;
    if (path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) {
      work = serveAdmin(req, res, path, url.searchParams);
    } else {
      const match = kit.match(method, path);
      work = match
        ? serveKit(req, res, match, url.searchParams)
        : Promise.resolve(
            send(
              res,
              path.startsWith('/v3/')
                ? { status: 404, body: v3ErrorBody(404, ['Not Found']) }
                : kitError(404, 'Not Found'),
            ),
          );
    }
    work.catch((e) => {
      report('[kit-sandbox] request failed:', e);
      if (!res.headersSent) send(res, kitError(500, 'Internal server error'));
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
