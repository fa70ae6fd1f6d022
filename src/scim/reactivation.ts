import type { SubscriberState } from '../kit/types';

// Kit's unsubscribe is one-way and its API has no way back (kit-integration-notes: "irreversible state
// changes"). Reactivation is refused loudly rather than dropped; this is the one wording operators see.
export function reactivationDetail(state: SubscriberState, email: string): string {
  return (
    `Cannot reactivate: the Kit subscriber for ${email} is "${state}", and Kit cannot reactivate an unsubscribed ` +
    'subscriber through its API (unsubscribe is one-way). Nothing was changed in Kit. To restore access, the person ' +
    'must re-subscribe themselves through a Kit form or landing page, or a Kit administrator can re-subscribe them ' +
    'in the Kit app; alternatively provision this user with a different email address.'
  );
}
