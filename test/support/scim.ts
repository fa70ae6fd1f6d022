import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Response } from 'supertest';
import { ScimError } from '../../src/scim/errors';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** Asserts a SCIM Error response (RFC 7644 §3.12): status, body schema, status string, scimType, media type. */
export function expectScimError(res: Response, status: number, scimType?: string): void {
  if (res.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  expect(res.headers['content-type']).toMatch(/application\/scim\+json/);
  expect(res.body.schemas).toEqual([SCIM_ERROR_SCHEMA]);
  expect(res.body.status).toBe(String(status));
  if (scimType === undefined) expect(res.body.scimType).toBeUndefined();
  else expect(res.body.scimType).toBe(scimType);
  expect(typeof res.body.detail).toBe('string');
}

export function expectListResponse(res: Response, totalResults?: number): any[] {
  if (res.status !== 200) throw new Error(`expected HTTP 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  expect(res.headers['content-type']).toMatch(/application\/scim\+json/);
  expect(res.body.schemas).toEqual([LIST_RESPONSE_SCHEMA]);
  if (totalResults !== undefined) expect(res.body.totalResults).toBe(totalResults);
  return res.body.Resources ?? [];
}

/**
 * Asserts a SCIM failure raised below the HTTP edge (a unit test of the core): the ScimError the error table
 * renders, with its status, scimType and a detail for the client. Returns it for further checks.
 */
export async function expectScimFailure(
  work: Promise<unknown> | (() => unknown),
  status: number,
  scimType?: string,
): Promise<ScimError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof ScimError)) throw new Error(`expected a SCIM ${status} failure, got ${String(caught)}`);
  expect({ status: caught.status, scimType: caught.scimType }).toEqual({ status, scimType });
  expect(caught.detail.length).toBeGreaterThan(0);
  return caught;
}

/** A body kept as a file under test/fixtures/scim, in a folder named after the client that sends it. */
export function scimFixture<T = Record<string, any>>(...parts: string[]): T {
  return JSON.parse(readFileSync(path.join(__dirname, '../fixtures/scim', ...parts), 'utf8')) as T;
}
