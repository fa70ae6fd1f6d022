import type { SubscriberState } from '../kit/types';

// Kit's unsubscribe is one-way and its API has no way back (docs/kit/traps.md "Irreversible state
// changes"). Reactivation is refused loudly rather than dropped; this is the one wording operators see.
export function reactivationDetail(state: SubscriberState, email: string): string {
  return (
    `Cannot reactivate: the Kit subscriber for ${email} is "${state}", and Kit cannot reactivate an unsubscribed ` +
    'subscriber through its API (unsubscribe is one-way). Nothing was changed in Kit. To restore access, the person ' +
    'must re-subscribe themselves through a Kit form or landing page, or a Kit administrator can re-subscribe them ' +
    'in the Kit app; alternatively provision this user with a different email address.'
  );
}

/**
 * A POST /Users for an email whose subscriber was deleted through SCIM. Kit keeps one subscriber per email and
 * cannot delete or reactivate it, so the email stays taken by the tombstone (docs/provisioning.md "Lifecycle").
 */
export function deletedUserDetail(email: string, id: number, deletedAt: string | null | undefined): string {
  const when = deletedAt ? ` on ${deletedAt}` : '';
  return (
    `The email ${email} belongs to user ${id}, which was deleted through SCIM${when}. Kit cannot delete a ` +
    'subscriber or reactivate an unsubscribed one through its API, so the email cannot be given to a new user. ' +
    'Nothing was changed in Kit. To restore this person, a Kit administrator re-subscribes them in the Kit app and ' +
    'clears their scim_deleted_at field and the scim:deleted-users tag: the user then reappears under the same id ' +
    `(${id}) for the IdP to match by userName. Otherwise, provision this user with a different email address.`
  );
}
