// What the platform's metrics, request scope and audit trail know of a Kit call: its shape, not how it is made.

/** One record per HTTP exchange with Kit, for metrics, logs and the audit trail. */
export interface KitCallRecord {
  method: string;
  /** The route pattern, e.g. "GET /v4/subscribers/:id", never the concrete URL (no ids or emails in labels). */
  endpoint: string;
  status: number | 'error';
  durationMs: number;
  attempt: number;
  /** The network error code (ECONNRESET, ETIMEDOUT…) when status is 'error'. */
  errorCode?: string;
}
