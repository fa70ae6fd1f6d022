import type { z } from 'zod';
import type { Repeat } from './retry';

// One Kit request as the code that makes it describes it: where it goes, what it sends, whether it may be sent
// again after an ambiguous failure, and the shape of the answer it expects. The resource modules write these;
// the caller (caller.ts) sends them, retries them as they declare and parses their answers.

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined | null>;

export interface KitRequest<T = unknown> {
  method: HttpMethod;
  /** The route pattern, e.g. "GET /v4/subscribers/:id": the only label that leaves the adapter. */
  endpoint: string;
  /** The concrete path, e.g. "/v4/subscribers/42". */
  path: string;
  query?: Query;
  body?: unknown;
  /** What sending it again does after an ambiguous failure (retry.ts, Repeat). */
  repeat: Repeat;
  /**
   * Kit queues it behind the account's other bulk requests, so a 413 means "queue full, nothing done" (Kit's
   * "queued bulk requests limit"), not "body too big".
   */
  queued?: boolean;
  /** The 2xx answer Kit documents; a body that does not match is KitUnreadableAnswerError. */
  answer: z.ZodType<T>;
}

/** What the transport needs of a request: the HTTP exchange only. */
export type HttpExchange = Pick<KitRequest, 'method' | 'endpoint' | 'path' | 'query' | 'body'>;
