import { KitFieldNotStoredError } from './errors';
import type { Subscriber } from './types';

// Kit "will ignore custom fields that don't already exist in your account" without an error
// (docs/kit/traps.md "Silent field drops"). Two defences: create the fields we use up front (ensure), and
// check every write's echo (here).

export interface SentSubscriber {
  email_address?: string;
  first_name?: string | null;
  fields?: Record<string, string | null>;
}

function normalise(v: unknown): string {
  // Kit answers null for an empty value; sending "" or null both clear it.
  return v === null || v === undefined ? '' : String(v).trim();
}

/**
 * The keys whose values Kit did not keep: every field value sent, plus first_name and email_address.
 * `fieldValuesPending`: Kit answered 202 (more than 10 fields: applied asynchronously), so the echo cannot show
 * the values yet; then only keys absent from `knownFieldKeys` (if known) are reported.
 */
export function unstoredKeys(
  sent: SentSubscriber,
  echoed: Subscriber,
  opts: { fieldValuesPending?: boolean; knownFieldKeys?: ReadonlySet<string> } = {},
): string[] {
  const missing: string[] = [];
  if (
    sent.email_address !== undefined &&
    normalise(sent.email_address).toLowerCase() !== normalise(echoed.email_address).toLowerCase()
  )
    missing.push('email_address');
  if (sent.first_name !== undefined && normalise(sent.first_name) !== normalise(echoed.first_name))
    missing.push('first_name');
  const fields = echoed.fields ?? {};
  for (const [key, value] of Object.entries(sent.fields ?? {})) {
    if (opts.fieldValuesPending) {
      if (opts.knownFieldKeys && !opts.knownFieldKeys.has(key)) missing.push(key);
      continue;
    }
    // Kit echoes every field of the account; an absent key is a field that does not exist.
    if (!(key in fields) || normalise(fields[key]) !== normalise(value)) missing.push(key);
  }
  return missing;
}

export function verifyEcho(
  sent: SentSubscriber,
  echoed: Subscriber,
  endpoint: string,
  opts: { fieldValuesPending?: boolean; knownFieldKeys?: ReadonlySet<string> } = {},
): void {
  const missing = unstoredKeys(sent, echoed, opts);
  if (missing.length > 0) throw new KitFieldNotStoredError(missing, { endpoint });
}
