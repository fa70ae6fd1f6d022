import { findField } from '../resources/customFields';
import type { CallOptions, CustomField } from '../types';
import type { V3Core } from './core';

// Kit v3's custom fields: listed in one call, created by label.

export class V3CustomFields {
  constructor(private readonly core: V3Core) {}

  async list(opts?: CallOptions): Promise<CustomField[]> {
    const a = await this.core.call(
      { method: 'GET', endpoint: 'GET /v3/custom_fields', path: '/v3/custom_fields' },
      opts,
    );
    const fields = (Array.isArray(a.data?.custom_fields) ? a.data.custom_fields : []) as CustomField[];
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
            { method: 'POST', endpoint: 'POST /v3/custom_fields', path: '/v3/custom_fields', body: { label: wanted } },
            opts,
            (d: CustomField & { custom_field?: CustomField }) => d.custom_field ?? d,
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
