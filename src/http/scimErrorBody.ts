import type { Response } from 'express';
import type { ScimError, ScimType } from '../scim/errors';

// Every error this server answers is a SCIM Error message (RFC 7644 §3.12), whoever produces it. One function
// renders a ScimError (status, body, headers), one writes it through express; httpServer.ts writes the same
// rendering on raw sockets for the requests express never sees.

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

export interface RenderedFailure {
  status: number;
  /** Retry-After, WWW-Authenticate: what the error asks the client to do next. */
  headers: Record<string, string>;
  body: ScimErrorBody;
}

export function renderScimError(err: ScimError): RenderedFailure {
  const body: ScimErrorBody = { schemas: [SCIM_ERROR_SCHEMA], status: String(err.status) };
  if (err.scimType) body.scimType = err.scimType;
  if (err.detail) body.detail = err.detail;
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
  if (err.challenge !== undefined) headers['WWW-Authenticate'] = err.challenge;
  return { status: err.status, headers, body };
}

/**
 * Answers with a SCIM Error body. Serialised here rather than with `res.json` so the media type can never fall
 * back to `application/json`. Called by sendFailure only: every failure goes through the translation table.
 */
export function sendScimError(res: Response, err: ScimError): void {
  const { status, headers, body } = renderScimError(err);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.send(JSON.stringify(body));
}
