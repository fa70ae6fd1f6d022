import type { Response } from 'express';
import type { Logger } from 'pino';
import { LIST_RESPONSE, type ScimBody, type ScimListResponse } from '../scim/resources';
import { toScimError } from './errorTable';
import { SCIM_CONTENT_TYPE, sendScimError } from './scimErrorBody';

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

export function sendList(res: Response, resources: ScimBody[], totalResults: number, startIndex: number): void {
  const list: ScimListResponse = {
    schemas: [LIST_RESPONSE],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
  sendScim(res, 200, list);
}

/**
 * The one way a failure leaves this server through express: any failure (a ScimError thrown where it arose,
 * or a Kit, scimmy or body-parsing failure) rendered as the SCIM error the translation table chooses. Logs what
 * the client does not see.
 */
export function sendFailure(res: Response, err: unknown, logger?: Logger): number {
  return sendDescribedFailure(res, err, logger).status;
}

/** sendFailure, answering what the client was told (status, scimType, detail) for the audit trail. */
export function sendDescribedFailure(
  res: Response,
  err: unknown,
  logger?: Logger,
): { status: number; scimType?: string; detail?: string } {
  const scim = toScimError(err);
  if (scim.status >= 500)
    logger?.error({ err: err instanceof Error ? err : String(err), status: scim.status }, 'request failed');
  else logger?.debug({ status: scim.status, detail: scim.detail }, 'request refused');
  sendScimError(res, scim);
  return { status: scim.status, scimType: scim.scimType, detail: scim.detail };
}
