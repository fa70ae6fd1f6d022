/** A wait in milliseconds as a `Retry-After` header value (RFC 9110 §10.2.3): whole seconds, at least one. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
