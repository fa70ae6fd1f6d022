import { createServer, type RequestListener, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type Clock, systemClock, type TimerHandle } from '../platform/clock';
import {
  ScimBadRequest,
  type ScimError,
  ScimHeadersTooLarge,
  ScimRequestTimeout,
  ScimServiceUnavailable,
} from '../scim/errors';
import { renderScimError, SCIM_CONTENT_TYPE } from './scimErrorBody';

// The HTTP server around the express app, for the two things express cannot see:
// - requests Node's parser refuses (headers over 16 KB, malformed HTTP) still get a SCIM Error body;
// - graceful shutdown: once draining, new requests are refused with a retryable 503, in-flight ones finish and
//   their connections close behind them, idle keep-alive connections are closed at once.

/** Health endpoints keep answering while the server drains: /readyz then says 503 "shutting down". */
const HEALTH_PATHS = new Set(['/healthz', '/readyz']);

export interface ScimHttpServer {
  readonly server: Server;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Stop accepting: the listening socket closes, idle connections close, new requests get 503 + Retry-After. */
  drain(): void;
  /**
   * Resolves true once every connection has closed, or false after `timeoutMs`, when the connections still
   * open are cut.
   */
  closed(timeoutMs: number): Promise<boolean>;
}

/** What the app's securityHeaders middleware sets, for the answers written here without express. */
const SECURITY_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };

/** How long a client turned away by a draining server waits: another instance can answer at once. */
const DRAINING_RETRY_SECONDS = 1;

/** The same rendering sendFailure uses, as raw HTTP/1.1 for a socket express never saw. */
function rawScimError(err: ScimError): string {
  const { status, headers, body: message } = renderScimError(err);
  const body = JSON.stringify(message);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    `Content-Type: ${SCIM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({ ...SECURITY_HEADERS, ...headers }).map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Nothing can be answered on a reset socket, or once a response has started on it.
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    socket.end(
      rawScimError(
        new ScimHeadersTooLarge(
          'The request line and headers exceed the server’s limit of 16 KB. Send long filters in the body of POST /Users/.search or /Groups/.search.',
        ),
      ),
    );
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end(rawScimError(new ScimRequestTimeout('The request did not arrive in time.')));
  } else {
    socket.end(rawScimError(new ScimBadRequest(undefined, 'The request is not valid HTTP/1.1.')));
  }
}

/** `clock` times the shutdown deadline (closed()), so tests can reach it without waiting it out. */
export function createScimHttpServer(app: RequestListener, clock: Clock = systemClock): ScimHttpServer {
  const open = new Set<ServerResponse>();
  let draining = false;

  const server = createServer((req, res) => {
    if (draining && !HEALTH_PATHS.has((req.url ?? '').split('?')[0])) {
      const refusal = renderScimError(
        new ScimServiceUnavailable(
          'This server is shutting down; retry the request (another instance will answer it).',
          DRAINING_RETRY_SECONDS,
        ),
      );
      const body = JSON.stringify(refusal.body);
      res.writeHead(refusal.status, {
        'Content-Type': SCIM_CONTENT_TYPE,
        'Content-Length': Buffer.byteLength(body),
        ...refusal.headers,
        ...SECURITY_HEADERS,
        Connection: 'close',
      });
      res.end(body);
      return;
    }
    open.add(res);
    if (draining) res.setHeader('Connection', 'close');
    res.on('close', () => {
      open.delete(res);
      // Its keep-alive connection may now be idle: during a drain it must not linger until its timeout.
      if (draining) server.closeIdleConnections();
    });
    app(req, res);
  });
  server.on('clientError', answerClientError);

  let closing: Promise<void> | undefined;
  return {
    server,
    inFlight: () => open.size,
    drain() {
      if (draining) return;
      draining = true;
      // Responses not yet started end their connection; those already sent are closed once idle.
      for (const res of open) if (!res.headersSent) res.setHeader('Connection', 'close');
      closing = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
    },
    async closed(timeoutMs) {
      if (!closing) return true;
      let timer: TimerHandle | undefined;
      const expired = new Promise<false>((resolve) => {
        timer = clock.setTimeout(() => resolve(false), Math.max(0, timeoutMs));
      });
      const done = await Promise.race([closing.then(() => true as const), expired]);
      clock.clearTimeout(timer);
      if (!done) server.closeAllConnections();
      return done;
    },
  };
}
