import type { CustomField } from './kitTypes';
import { unprocessable } from './rejection';

// Kit's custom fields: the label is unique per account and trimmed; the key is "an ASCII-only, lowercased,
// underscored representation of your label" and changes when the label does; the name
// ("ck_field_<id>_<key>") is fixed at creation. Values are stored per field id, so a rename keeps them.

export interface FieldRecord {
  id: number;
  label: string;
  key: string;
  name: string;
  createdAt: number;
}

export function keyForLabel(label: string): string {
  return label
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export function customFieldJson(f: FieldRecord): CustomField {
  return { id: f.id, name: f.name, key: f.key, label: f.label };
}

export class CustomFieldCatalog {
  private readonly byId = new Map<number, FieldRecord>();
  private readonly byKey = new Map<string, FieldRecord>();
  private readonly byLabel = new Map<string, FieldRecord>();
  private nextId = 1;
  /** Sorted by id; rebuilt on change because Kit accounts hold tens of fields, not thousands. */
  private ordered: FieldRecord[] = [];

  all(): readonly FieldRecord[] {
    return this.ordered;
  }

  get(id: number): FieldRecord | undefined {
    return this.byId.get(id);
  }

  /** Writes may name a field by key or, as Kit's own examples do, by label. Unknown names resolve to nothing. */
  resolve(keyOrLabel: string): FieldRecord | undefined {
    return (
      this.byKey.get(keyOrLabel) ??
      this.byLabel.get(keyOrLabel.trim().toLowerCase()) ??
      this.byKey.get(keyOrLabel.trim())
    );
  }

  findByLabel(label: string): FieldRecord | undefined {
    return this.byLabel.get(label.trim().toLowerCase());
  }

  create(rawLabel: unknown, now: number): FieldRecord {
    const label = this.validLabel(rawLabel);
    const key = this.freeKey(label, undefined);
    const id = this.nextId++;
    return this.insert({ id, label, key, name: `ck_field_${id}_${key || id}`, createdAt: now });
  }

  /** Re-inserts a field read from a snapshot. */
  restore(f: FieldRecord): void {
    this.insert({ ...f });
    this.nextId = Math.max(this.nextId, f.id + 1);
  }

  rename(id: number, rawLabel: unknown): FieldRecord | undefined {
    const field = this.byId.get(id);
    if (!field) return undefined;
    const label = this.validLabel(rawLabel, field);
    const key = this.freeKey(label, field);
    this.unindex(field);
    field.label = label;
    field.key = key;
    this.index(field);
    return field;
  }

  delete(id: number): FieldRecord | undefined {
    const field = this.byId.get(id);
    if (!field) return undefined;
    this.unindex(field);
    this.byId.delete(id);
    this.ordered = this.ordered.filter((f) => f.id !== id);
    return field;
  }

  clear(): void {
    this.byId.clear();
    this.byKey.clear();
    this.byLabel.clear();
    this.ordered = [];
    this.nextId = 1;
  }

  private validLabel(raw: unknown, self?: FieldRecord): string {
    const label = typeof raw === 'string' ? raw.trim() : '';
    if (!label) throw unprocessable("Label can't be blank");
    const clash = this.byLabel.get(label.toLowerCase());
    if (clash && clash !== self) throw unprocessable('Label has already been taken');
    return label;
  }

  private freeKey(label: string, self: FieldRecord | undefined): string {
    const key = keyForLabel(label) || `field_${self?.id ?? this.nextId}`;
    const clash = this.byKey.get(key);
    if (clash && clash !== self) throw unprocessable('Label has already been taken');
    return key;
  }

  private insert(f: FieldRecord): FieldRecord {
    this.byId.set(f.id, f);
    this.index(f);
    this.ordered = [...this.byId.values()].sort((a, b) => a.id - b.id);
    return f;
  }

  private index(f: FieldRecord): void {
    this.byKey.set(f.key, f);
    this.byLabel.set(f.label.toLowerCase(), f);
  }

  private unindex(f: FieldRecord): void {
    this.byKey.delete(f.key);
    this.byLabel.delete(f.label.toLowerCase());
  }
}
