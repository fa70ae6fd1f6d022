import type { EventsConfig } from '../config/environment';
import { SCIM_EVENT } from './securityEvent';
import { EVENTS_PATH, JWKS_PATH } from './pollRoutes';

// How ServiceProviderConfig advertises security events. RFC 9967 adds attributes to the ServiceProviderConfig
// schema; their exact names could not be checked against the RFC's text here, so this server advertises under
// its own extension URN (beside the core attributes, RFC 7643 §3.3) rather than guess at core attribute names.

export const EVENTS_SPC_EXTENSION = 'urn:ietf:params:scim:schemas:extension:kit:2.0:ServiceProviderConfig';

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
