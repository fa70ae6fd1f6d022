import type { KitRequest } from '../request';

// Kit v3 takes its credential as a parameter (kit-api-v3-legacy.txt "API secret key"): in the query string of a
// GET or DELETE, in the JSON body of a POST or PUT. The request's `endpoint` label never carries it, and every
// text this adapter reports goes through `redactSecret` (a transport error may quote a URL).

export function signed<R extends KitRequest<unknown>>(req: R, apiSecret: string): R {
  if (req.method === 'GET' || req.method === 'DELETE') {
    return { ...req, query: { ...req.query, api_secret: apiSecret } };
  }
  const body = (req.body ?? {}) as Record<string, unknown>;
  return { ...req, body: { ...body, api_secret: apiSecret } };
}

export function secretRedactor(apiSecret: string): (text: string) => string {
  const encoded = encodeURIComponent(apiSecret);
  return (text) => text.split(apiSecret).join('[REDACTED]').split(encoded).join('[REDACTED]');
}
