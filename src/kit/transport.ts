import type http from 'node:http';
import type https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { HttpExchange, Query } from './request';
import type { KitCallRecord } from './types';

// One HTTP exchange with Kit, never throwing: every answer (2xx or not) and every network failure comes back
// as an Outcome, and is reported once through onCall. Axios errors are reduced to code + message here because
// they carry the request config, i.e. our credentials.

export type Outcome =
  | { kind: 'response'; status: number; data: unknown; headers: Record<string, string | undefined> }
  | { kind: 'network'; code: string; detail: string };

export interface TransportOptions {
  baseUrl: string;
  timeoutMs?: number;
  httpAgent?: http.Agent;
  httpsAgent?: https.Agent;
  onCall?: (record: KitCallRecord) => void;
  now?: () => number;
  /** Masks credentials that travel in URLs (Kit v3's api_secret) in anything this module reports. */
  redact?: (text: string) => string;
}

export class KitTransport {
  private readonly http: AxiosInstance;
  private readonly now: () => number;

  constructor(private readonly opts: TransportOptions) {
    this.now = opts.now ?? Date.now;
    this.http = axios.create({
      baseURL: opts.baseUrl.replace(/\/+$/, ''),
      timeout: opts.timeoutMs ?? 15_000,
      httpAgent: opts.httpAgent,
      httpsAgent: opts.httpsAgent,
      // Statuses are ours to interpret; redirects would replay credentials to another host.
      validateStatus: () => true,
      maxRedirects: 0,
      // ETIMEDOUT instead of ECONNABORTED for timeouts, so a timeout is not mistaken for a caller's abort.
      transitional: { clarifyTimeoutError: true },
      headers: { Accept: 'application/json' },
      // Kit's answers are small JSON; a runaway body is a fault, not data.
      maxContentLength: 64 * 1024 * 1024,
    });
  }

  async send(
    req: HttpExchange,
    authHeaders: Record<string, string>,
    attempt: number,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const started = this.now();
    let outcome: Outcome;
    try {
      const res = await this.http.request({
        method: req.method,
        url: req.path + queryString(req.query),
        data: req.body,
        headers: { ...(req.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...authHeaders },
        signal,
      });
      outcome = { kind: 'response', status: res.status, data: res.data, headers: flatHeaders(res.headers) };
    } catch (e) {
      const failed = networkOutcome(e);
      outcome = this.opts.redact ? { ...failed, detail: this.opts.redact(failed.detail) } : failed;
    }
    this.opts.onCall?.({
      method: req.method,
      endpoint: req.endpoint,
      status: outcome.kind === 'response' ? outcome.status : 'error',
      durationMs: this.now() - started,
      attempt,
      ...(outcome.kind === 'network' ? { errorCode: outcome.code } : {}),
    });
    return outcome;
  }
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.append(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function flatHeaders(headers: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
      out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? undefined : String(v);
    }
  }
  return out;
}

function networkOutcome(e: unknown): Extract<Outcome, { kind: 'network' }> {
  const err = e as { code?: unknown; message?: unknown; name?: unknown };
  if (err?.name === 'CanceledError' || err?.code === 'ERR_CANCELED') {
    return { kind: 'network', code: 'ERR_CANCELED', detail: 'cancelled by the caller' };
  }
  const message = typeof err?.message === 'string' ? err.message : 'request failed';
  let code = typeof err?.code === 'string' && err.code !== '' ? err.code : 'EUNKNOWN';
  if (/socket hang up/i.test(message)) code = 'ECONNRESET';
  // axios's messages name the host and the timeout, never headers or bodies.
  return { kind: 'network', code, detail: message.slice(0, 200) };
}
