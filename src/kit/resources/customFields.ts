import type { KitCaller } from '../caller';
import { KitFieldNotStoredError } from '../errors';
import { collectAll, cursorPages, pageQuery } from '../pagination';
import type { CallOptions, CustomField, Subscriber } from '../types';

// Kit "will ignore custom fields that don't already exist in your account" without an error
// (docs/kit/traps.md "Silent field drops"). Two defences: create the fields we use up front (ensure), and
// check every write's echo.

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

/** Kit trims labels and keeps them unique; match exactly first, then regardless of case. */
export function findField(fields: readonly CustomField[], label: string): CustomField | undefined {
  const wanted = label.trim();
  return fields.find((f) => f.label === wanted) ?? fields.find((f) => f.label.toLowerCase() === wanted.toLowerCase());
}

/** Field keys seen in the account, for checking 202 answers whose echo cannot show values yet. */
export interface KnownFieldKeys {
  keys?: Set<string>;
}

export class CustomFields {
  constructor(
    private readonly caller: KitCaller,
    private readonly known: KnownFieldKeys,
  ) {}

  async list(opts?: CallOptions): Promise<CustomField[]> {
    const fields = await collectAll(
      cursorPages((after) =>
        this.caller.page<CustomField>(
          { method: 'GET', endpoint: 'GET /v4/custom_fields', path: '/v4/custom_fields', query: pageQuery({ after }) },
          'custom_fields',
          opts,
        ),
      ),
    );
    this.known.keys = new Set(fields.map((f) => f.key));
    return fields;
  }

  /** POST /v4/custom_fields; after a lost first attempt, Kit's "already been taken" answers the field it made. */
  create(label: string, opts?: CallOptions): Promise<CustomField> {
    return this.createWith(label, 'own', opts);
  }

  /**
   * label → key for every label, creating the missing fields one by one (Kit's POST /v4/custom_fields takes one
   * label; its bulk variant is asynchronous above a threshold and reports no keys). A field another replica
   * starting at the same moment created first is taken as it is: ensuring means "exists".
   */
  async ensure(labels: readonly string[], opts?: CallOptions): Promise<Map<string, string>> {
    const existing = await this.list(opts);
    const keys = new Map<string, string>();
    for (const label of labels) {
      if (keys.has(label)) continue;
      let field = findField(existing, label);
      if (!field) {
        field = await this.createWith(label.trim(), 'find', opts);
        existing.push(field);
      }
      keys.set(label, field.key);
    }
    return keys;
  }

  private async createWith(label: string, clash: 'find' | 'own', opts?: CallOptions): Promise<CustomField> {
    const { item } = await this.caller.createOrFind(
      { method: 'POST', endpoint: 'POST /v4/custom_fields', path: '/v4/custom_fields', body: { label } },
      opts,
      (data: { custom_field: CustomField }) => data.custom_field,
      async () => findField(await this.list(opts), label),
      clash,
    );
    this.known.keys?.add(item.key);
    return item;
  }
}
