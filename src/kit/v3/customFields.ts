import { findField } from '../resources/customFields';
import type { CallOptions, CustomField } from '../types';
import { v3CustomFieldCreatedAnswer, v3CustomFieldsAnswer } from './answers';
import type { V3Core } from './core';

// Kit v3's custom fields: listed in one call, created by label.

export class V3CustomFields {
  constructor(private readonly core: V3Core) {}

  async list(opts?: CallOptions): Promise<CustomField[]> {
    const { custom_fields: fields } = await this.core.data(
      {
        method: 'GET',
        endpoint: 'GET /v3/custom_fields',
        path: '/v3/custom_fields',
        repeat: 'idempotent',
        answer: v3CustomFieldsAnswer,
      },
      opts,
    );
    this.core.fieldKeys = new Set(fields.map((f) => f.key));
    return fields;
  }

  /** label → key, creating the missing ones by label (POST /v3/custom_fields), one call each. */
  async ensure(labels: readonly string[], opts?: CallOptions): Promise<Map<string, string>> {
    const existing = await this.list(opts);
    const keys = new Map<string, string>();
    for (const label of labels) {
      if (keys.has(label)) continue;
      let field = findField(existing, label);
      if (!field) {
        const wanted = label.trim();
        field = (
          await this.core.createOrFind(
            {
              method: 'POST',
              endpoint: 'POST /v3/custom_fields',
              path: '/v3/custom_fields',
              body: { label: wanted },
              // Labels are unique: a repeat after Kit created the field is refused 422 "already been taken".
              repeat: 'uniqueName',
              answer: v3CustomFieldCreatedAnswer,
            },
            opts,
            async () => findField(await this.list(opts), wanted),
            'find',
          )
        ).item;
        existing.push(field);
        this.core.fieldKeys?.add(field.key);
      }
      keys.set(label, field.key);
    }
    return keys;
  }
}
