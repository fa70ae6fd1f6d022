import { customFieldAnswer, customFieldPage } from '../answers';
import type { KitCaller } from '../caller';
import { collectAll, cursorPages, pageQuery } from '../pagination';
import type { CallOptions, CustomField } from '../types';

// Kit's custom field endpoints (docs/kit/api.md "Custom fields"). The server's reserved fields must exist
// before any write carries them: Kit drops values for unknown fields silently (fieldEcho.ts).

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
        this.caller.data(
          {
            method: 'GET',
            endpoint: 'GET /v4/custom_fields',
            path: '/v4/custom_fields',
            query: pageQuery({ after }),
            repeat: 'idempotent',
            answer: customFieldPage,
          },
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
      {
        method: 'POST',
        endpoint: 'POST /v4/custom_fields',
        path: '/v4/custom_fields',
        body: { label },
        // Labels are unique: a repeat after Kit created the field is refused 422 "already been taken".
        repeat: 'uniqueName',
        answer: customFieldAnswer.transform((a) => a.custom_field),
      },
      opts,
      async () => findField(await this.list(opts), label),
      clash,
    );
    this.known.keys?.add(item.key);
    return item;
  }
}
