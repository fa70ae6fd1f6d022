import { type Document, isMap, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { isForbiddenSegment } from './forbiddenKeys';

// The YAML configuration files (attribute mappings and tenants files) are read alike: YAML
// errors and prototype keys refused with their line, aliases bounded, a mapping at the top. The document is
// kept beside the values, so later problems can name the line of any key path.

export interface YamlDocument {
  doc: Document;
  lines: LineCounter;
  /** The document as plain values; a mapping at the top. */
  values: Record<string, unknown>;
}

export type YamlReading = ({ ok: true } & YamlDocument) | { ok: false; problems: string[] };

/** Reads `text`; `name` (the file's path) prefixes every problem. */
export function readYamlDocument(text: string, name: string): YamlReading {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (pos: number, message: string) => {
    const { line, col } = lines.linePos(pos);
    return `${name}: line ${line}, column ${col}: ${message}`;
  };
  const problems = doc.errors.map((err) => {
    // Some errors carry no line of their own; their offset still has one.
    const { line, col } = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    return `${name}: line ${line}, column ${col}: ${err.message.split('\n')[0]}`;
  });
  if (problems.length) return { ok: false, problems };
  // Prototype keys are refused wherever they appear, before the document becomes JavaScript objects.
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && isForbiddenSegment(String(pair.key.value)))
        problems.push(at(pair.key.range?.[0] ?? 0, `"${String(pair.key.value)}" is not allowed as a key`));
    },
  });
  if (problems.length) return { ok: false, problems };
  if (!isMap(doc.contents)) return { ok: false, problems: [`${name}: line 1: expected a mapping with "version: 1"`] };
  try {
    return { ok: true, doc, lines, values: doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> };
  } catch (err) {
    // An alias bomb, refused by yaml while expanding: named at its first alias, not expanded.
    let first = 0;
    visit(doc, {
      Alias(_, node) {
        first = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    return { ok: false, problems: [at(first, (err as Error).message.split('\n')[0])] };
  }
}
