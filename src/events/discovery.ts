import type { EventsConfig } from '../config/environment';
import { SCIM_EVENT } from './securityEvent';
import { EVENTS_PATH, JWKS_PATH } from './pollRoutes';

// How ServiceProviderConfig advertises security events. RFC 9967 §4 adds one complex attribute to the core
// ServiceProviderConfig schema, `securityEvents`, with `asyncRequest` and `eventUris`; everything a receiver
// needs to set up a stream (delivery methods, poll endpoint, JWKS) the RFC leaves out of scope, so that stays
// in this server's extension (RFC 7643 §3.3 allows extension schemas on the resource), which receivers written
// against the extension keep reading unchanged.

export const EVENTS_SPC_EXTENSION = 'urn:ietf:params:scim:schemas:extension:kit:2.0:ServiceProviderConfig';

/**
 * The core `securityEvents` attribute (RFC 9967 §4). `asyncRequest` is "none": this server completes every
 * request synchronously and ignores `Prefer: respond-async` (RFC 9967 §2.5.1.1 makes asynchronous requests
 * optional).
 */
export function securityEventsCapability(): Record<string, unknown> {
  return { asyncRequest: 'none', eventUris: Object.values(SCIM_EVENT) };
}

/** The extension's value: what a receiver needs to configure itself; never a token or a receiver's name. */
export function securityEventsDiscovery(events: EventsConfig, scimRoot: string): Record<string, unknown> {
  const root = scimRoot.replace(/\/scim\/v2$/, '');
  return {
    securityEvents: {
      supported: true,
      eventUris: Object.values(SCIM_EVENT),
      delivery: ['urn:ietf:rfc:8936', ...(events.push.length > 0 ? ['urn:ietf:rfc:8935'] : [])],
      pollEndpoint: `${root}${EVENTS_PATH}`,
      jwksUri: `${root}${JWKS_PATH}`,
      subjectFormat: 'scim',
      signingAlgValues: ['ES256'],
    },
  };
}
