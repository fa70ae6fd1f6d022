import type { Response } from 'express';
import type { Logger } from 'pino';
import { toScimError } from '../scim/errorTable';
import { SCIM_CONTENT_TYPE, sendScimError } from './scimErrorBody';

export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** `json`: the body already serialised (a list answer, see listFragments.ts); `body` is serialised otherwise. */
export function sendScim(
  res: Response,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  json?: string,
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.send(json ?? JSON.stringify(body));
}

export function sendList(res: Response, resources: unknown[], totalResults: number, startIndex: number): void {
  sendScim(res, 200, {
    schemas: [LIST_RESPONSE],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  });
}

/** Renders any failure as the SCIM error the translation table chooses; logs what the client does not see. */
export function sendFailure(res: Response, err: unknown, logger?: Logger): number {
  const scim = toScimError(err);
  if (scim.status >= 500)
    logger?.error({ err: err instanceof Error ? err : String(err), status: scim.status }, 'request failed');
  else logger?.debug({ status: scim.status, detail: scim.detail }, 'request refused');
  const headers: Record<string, string> = {};
  if (scim.retryAfterSeconds !== undefined) headers['Retry-After'] = String(scim.retryAfterSeconds);
  sendScimError(res, scim.status, scim.detail, scim.scimType, headers);
  return scim.status;
}
