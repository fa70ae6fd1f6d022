/**
 * Keys and path segments that name JavaScript's object machinery rather than data. Code that turns keys from
 * outside into nested objects by plain assignment (scimmy 1.3.5 does, for attribute paths; a YAML mapping read
 * naively would too) lets `name.__proto__.x` write Object.prototype.x for the whole process. No SCIM schema and no
 * configuration file has keys of these names: they are refused wherever a path or key arrives.
 */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenSegment(segment: string): boolean {
  return FORBIDDEN_SEGMENTS.has(segment.toLowerCase());
}
