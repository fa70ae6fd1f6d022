import type { Response } from 'express';
import type { ScimType } from '../scim/errors';

// Every error this server answers is a SCIM Error message (RFC 7644 §3.12), whoever produces it: the auth
// layer, the SCIM routes or the fallback error handler. One function keeps the shape and media type identical.

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export type { ScimType } from '../scim/errors';

export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  /** RFC 7644 carries the HTTP status as a string. */
  status: string;
  scimType?: ScimType;
  detail?: string;
}

export function scimErrorBody(status: number, detail?: string, scimType?: ScimType): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [SCIM_ERROR_SCHEMA], status: String(status) };
  if (scimType) body.scimType = scimType;
  if (detail) body.detail = detail;
  return body;
}

/**
 * Answers with a SCIM Error body. `headers` carries extras such as `Retry-After` or `WWW-Authenticate`.
 * The body is serialised here rather than with `res.json` so the media type can never fall back to
 * `application/json`.
 */
export function sendScimError(
  res: Response,
  status: number,
  detail?: string,
  scimType?: ScimType,
  headers?: Record<string, string>,
): void {
  if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.send(JSON.stringify(scimErrorBody(status, detail, scimType)));
}
