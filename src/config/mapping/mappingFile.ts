import type { Document, LineCounter } from 'yaml';
import { z } from 'zod';
import { readYamlDocument } from '../../platform/yamlDocument';
import { isForbiddenSegment } from '../../platform/forbiddenKeys';
import {
  type CatalogAttribute,
  CORE_USER,
  CORE_USER_ATTRIBUTES,
  ENTERPRISE_USER,
  ENTERPRISE_USER_ATTRIBUTES,
  FIXED_USER_ATTRIBUTES,
  KIT_USER,
} from './catalog';
import type { AttributeMapping, ExtensionSchema, KitTarget, MappedAttribute } from './model';
import { overlaps, resolveSourcePath, type SchemaLookup } from './sourcePath';

// A mapping file (SCIM_MAPPING_FILE, YAML; mapping/default.yaml documents the format) read into an
// AttributeMapping, or every problem found, each naming its line. Pure: the caller reads the file. Checked:
// the YAML itself, the shape (zod), then the meaning: every source is an attribute of a known schema, every
// attribute has exactly one home in Kit, every declared extension attribute is mapped.

/** A mapping file larger than this is refused before it is parsed (real files are a few kilobytes). */
export const MAX_MAPPING_FILE_BYTES = 256 * 1024;
/**
 * Kit accepts at most 140 custom field values in one subscriber write (docs/kit/api.md "Subscribers"); the
 * server writes two of its own (scim_deleted_at, scim_last_modified) beside the mapped ones.
 */
export const MAX_MAPPED_FIELDS = 138;
/** Custom field labels the server keeps for its own bookkeeping; no attribute may be mapped onto them. */
export const RESERVED_LABELS = ['scim_deleted_at', 'scim_last_modified'];

const ATTRIBUTE_NAME = /^[A-Za-z][\w$-]{0,63}$/;
const EXTENSION_URN = /^urn:ietf:params:scim:schemas:extension:[A-Za-z0-9][\w.-]{0,63}:2\.0:User$/;

const entrySchema = z
  .object({
    scim: z.string().min(1).max(256),
    kit: z.enum(['email_address', 'first_name']).optional(),
    field: z.string().min(1).max(100).optional(),
    mutability: z.enum(['readWrite', 'immutable']).optional(),
  })
  .strict()
  .refine((e) => (e.kit === undefined) !== (e.field === undefined), 'give exactly one of "kit:" or "field:"');

const extensionAttributeSchema = z
  .object({
    name: z.string().regex(ATTRIBUTE_NAME, 'must be a SCIM attribute name (a letter, then letters, digits, _ $ -)'),
    type: z.enum(['string', 'boolean', 'integer', 'decimal', 'dateTime', 'reference']),
    multiValued: z.boolean().default(false),
    mutability: z.enum(['readWrite', 'immutable', 'readOnly', 'writeOnly']).default('readWrite'),
    required: z.boolean().default(false),
    description: z.string().max(1000).default(''),
  })
  .strict();

const extensionSchema = z
  .object({
    schema: z.string().regex(EXTENSION_URN, 'must be urn:ietf:params:scim:schemas:extension:<name>:2.0:User'),
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'must be letters and digits, starting with a letter'),
    description: z.string().max(1000).default(''),
    required: z.boolean().default(false),
    attributes: z.array(extensionAttributeSchema).min(1).max(100),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(1),
    user: z
      .array(entrySchema)
      .min(1)
      .max(MAX_MAPPED_FIELDS + 2),
    extensions: z.array(extensionSchema).max(20).default([]),
    groups: z
      .array(z.unknown())
      .max(0, 'Kit tags hold only a name: a Group’s displayName is the tag name and nothing else can be mapped')
      .optional(),
  })
  .strict();

type Path = ReadonlyArray<string | number>;

export class MappingFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid mapping file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'MappingFileError';
  }
}

/** Where a path of the document is: the node itself, or the nearest parent that exists. */
function positionOf(doc: Document, lines: LineCounter, path: Path): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]);
  }
  return { line: 1, col: 0 };
}

/** Reads a mapping file's text; `name` (its path) prefixes every problem. Throws MappingFileError. */
export function parseMappingFile(text: string, name = 'mapping file'): AttributeMapping {
  if (Buffer.byteLength(text) > MAX_MAPPING_FILE_BYTES)
    throw new MappingFileError([`${name}: larger than ${MAX_MAPPING_FILE_BYTES} bytes`]);
  const reading = readYamlDocument(text, name);
  if (!reading.ok) throw new MappingFileError(reading.problems);
  const { doc, lines } = reading;
  const found: { line: number; col: number; text: string }[] = [];
  const at = (path: Path, message: string) => {
    const { line, col } = positionOf(doc, lines, path);
    found.push({ line, col, text: `${name}: ${col ? `line ${line}, column ${col}` : `line ${line}`}: ${message}` });
  };
  // In the order of the file, whichever check found them: a reader fixes a file from the top down.
  const problems = () => found.sort((a, b) => a.line - b.line || a.col - b.col).map((f) => f.text);
  const parsed = fileSchema.safeParse(reading.values);
  if (parsed.success) {
    const mapping = checkMeaning(parsed.data, at, true);
    if (found.length) throw new MappingFileError(problems());
    return mapping;
  }
  for (const issue of parsed.error.issues) {
    const where = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // An unknown key is named where it stands, not at the start of the entry that holds it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const key of keys) {
      const path = key === undefined ? where : [...where, key];
      const message = key === undefined ? issue.message : `unknown key "${key}"`;
      at(path, `${where.join('.') || 'file'}: ${message.replace(/^Invalid input: /, '')}`);
    }
  }
  // A shape problem in one entry must not hide the meaning problems of the others: every entry whose own shape
  // is sound is still checked, so one run of `validate` names every problem in the file.
  checkMeaning(soundEntries(reading.values), at, false);
  throw new MappingFileError(problems());
}

type MappingFileShape = z.infer<typeof fileSchema>;
type UserEntry = z.infer<typeof entrySchema>;
type ExtensionEntry = z.infer<typeof extensionSchema>;

/** What a file with shape problems still says: each entry whose own shape is sound, in its place. */
interface SoundEntries {
  user: (UserEntry | undefined)[];
  extensions: ExtensionEntry[];
  /** Extension URNs whose declaration is unsound: sources in them are not checked (they would all be "unknown"). */
  unsoundSchemas: string[];
}

function soundEntries(values: Record<string, unknown>): SoundEntries {
  const user = Array.isArray(values.user) ? values.user : [];
  const extensions = Array.isArray(values.extensions) ? values.extensions : [];
  const sound: SoundEntries = { user: [], extensions: [], unsoundSchemas: [] };
  for (const entry of user) {
    const read = entrySchema.safeParse(entry);
    sound.user.push(read.success ? read.data : undefined);
  }
  for (const ext of extensions) {
    const read = extensionSchema.safeParse(ext);
    if (read.success) sound.extensions.push(read.data);
    else {
      const schema = (ext as { schema?: unknown } | null)?.schema;
      if (typeof schema === 'string') sound.unsoundSchemas.push(schema.toLowerCase());
    }
  }
  return sound;
}

/**
 * The meaning of the entries. `complete` is false when entries were left out for their shape: the checks on the
 * file as a whole (emails and userName mapped, every declared attribute mapped) would then blame what is missing
 * only because it was left out, so they wait for a file whose shape is sound.
 */
function checkMeaning(
  file: MappingFileShape | SoundEntries,
  at: (path: Path, message: string) => void,
  complete: boolean,
): AttributeMapping {
  const unsoundSchemas = 'unsoundSchemas' in file ? file.unsoundSchemas : [];
  const extensions: ExtensionSchema[] = [];
  const reservedSchemas = [CORE_USER, ENTERPRISE_USER, KIT_USER].map((u) => u.toLowerCase());
  const reservedNames = ['user', 'group', 'enterpriseuser', 'kitsubscriber'];
  file.extensions.forEach((ext, i) => {
    if (reservedSchemas.includes(ext.schema.toLowerCase()))
      at(['extensions', i, 'schema'], `${ext.schema} is built in; declare only your own extensions`);
    if (extensions.some((e) => e.id.toLowerCase() === ext.schema.toLowerCase()))
      at(['extensions', i, 'schema'], `${ext.schema} is declared twice`);
    if (reservedNames.includes(ext.name.toLowerCase()) || extensions.some((e) => e.name === ext.name))
      at(['extensions', i, 'name'], `the schema name "${ext.name}" is taken`);
    const seen = new Set<string>();
    ext.attributes.forEach((a, j) => {
      if (isForbiddenSegment(a.name)) at(['extensions', i, 'attributes', j, 'name'], `"${a.name}" is not allowed`);
      if (seen.has(a.name.toLowerCase()))
        at(['extensions', i, 'attributes', j, 'name'], `"${a.name}" is declared twice in ${ext.schema}`);
      seen.add(a.name.toLowerCase());
    });
    extensions.push({ id: ext.schema, ...ext, attributes: ext.attributes.map((a) => ({ ...a })) });
  });
  const schemaOf = schemaLookup(extensions);

  const user: MappedAttribute[] = [];
  const labels = new Map<string, number>();
  file.user.forEach((entry, i) => {
    if (!entry) return;
    const inUnsound = unsoundSchemas.some((urn) => entry.scim.trim().toLowerCase().startsWith(`${urn}:`));
    if (inUnsound) return;
    const head = entry.scim.trim().split(/[.[]/)[0];
    if (FIXED_USER_ATTRIBUTES.has(head))
      return at(['user', i, 'scim'], `${head} has a fixed home in Kit and cannot be mapped`);
    const resolved = resolveSourcePath(entry.scim, schemaOf);
    if ('error' in resolved) return at(['user', i, 'scim'], `"${entry.scim}": ${resolved.error}`);
    const { path, type } = resolved;
    const clash = user.find((u) => overlaps(u.source, path));
    if (clash) return at(['user', i, 'scim'], `"${path.text}" overlaps "${clash.source.text}", mapped already`);
    let target: KitTarget;
    if (entry.kit === 'email_address') {
      if (path.text !== 'emails')
        return at(['user', i, 'kit'], 'only "emails" can be mapped to email_address (Kit’s one address)');
      target = { kind: 'email_address' };
    } else if (entry.mutability !== undefined) {
      // Only Kit's address can be held fixed: it is what Kit knows the subscriber by, and the one value an
      // organisation may want changed in Kit only (its own address book, a double opt-in) rather than by an IdP.
      return at(['user', i, 'mutability'], 'only the "kit: email_address" entry takes a mutability');
    } else if (entry.kit === 'first_name') {
      if (type !== 'string') return at(['user', i, 'kit'], `first_name holds text; "${path.text}" is ${type}`);
      if (user.some((u) => u.target.kind === 'first_name')) return at(['user', i, 'kit'], 'first_name is mapped twice');
      target = { kind: 'first_name' };
    } else {
      if (path.text === 'emails')
        return at(['user', i, 'field'], 'emails lives in email_address ("kit: email_address")');
      const label = entry.field!.trim();
      if (!label) return at(['user', i, 'field'], 'a field label cannot be blank');
      if (RESERVED_LABELS.includes(label.toLowerCase()))
        return at(['user', i, 'field'], `"${label}" is reserved for the server’s own bookkeeping`);
      // Kit's labels are unique regardless of letter case (docs/kit/api.md "Custom fields").
      const other = labels.get(label.toLowerCase());
      if (other !== undefined)
        return at(['user', i, 'field'], `the field "${label}" already holds ${file.user[other]?.scim}`);
      labels.set(label.toLowerCase(), i);
      target = { kind: 'field', label };
    }
    user.push({ source: path, target, type, ...(entry.mutability === 'immutable' && { mutability: 'immutable' }) });
  });
  if (!complete) return { user, extensions };
  if (!user.some((u) => u.target.kind === 'email_address'))
    at(['user'], 'emails must be mapped to email_address: a Kit subscriber cannot exist without an email');
  const userName = user.find((u) => u.source.text === 'userName');
  if (!userName || userName.target.kind !== 'field')
    at(['user'], 'userName must be mapped to a custom field (it keeps a userName that is not exactly the email)');
  if (labels.size > MAX_MAPPED_FIELDS)
    at(['user'], `${labels.size} custom fields: Kit takes at most ${MAX_MAPPED_FIELDS} beside the server’s own two`);
  // Every declared extension attribute must have a home, or an IdP could send it and see it vanish.
  file.extensions.forEach((ext, i) =>
    ext.attributes.forEach((a, j) => {
      const mapped = user.some((u) => u.source.schema === ext.schema && u.source.attribute === a.name);
      if (!mapped) at(['extensions', i, 'attributes', j, 'name'], `${ext.schema}:${a.name} is declared but not mapped`);
    }),
  );
  return { user, extensions };
}

/** Attributes of the core, enterprise and declared extension schemas, for resolving source paths. */
export function schemaLookup(extensions: readonly ExtensionSchema[]): SchemaLookup {
  const bySchema = new Map<string, readonly CatalogAttribute[]>([
    [CORE_USER, CORE_USER_ATTRIBUTES],
    [ENTERPRISE_USER, ENTERPRISE_USER_ATTRIBUTES],
  ]);
  for (const ext of extensions) {
    bySchema.set(
      ext.id,
      ext.attributes.map((a) => ({ name: a.name, type: a.type, multiValued: a.multiValued })),
    );
  }
  return (urn) => bySchema.get(urn);
}
