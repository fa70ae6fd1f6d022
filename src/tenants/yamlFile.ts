import { readFileSync } from 'node:fs';
import { type Document, isMap, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { ConfigError } from '../config';
import { isForbiddenSegment } from '../scim/inputLimits';

// A YAML configuration file read as src/scim/mapping reads mapping files: bounded in size, YAML errors and
// prototype keys refused with their line, aliases bounded. The document is kept beside the values, so later
// problems can name the line of any key path.

export interface YamlFile {
  doc: Document;
  lines: LineCounter;
  /** The document as plain values; a mapping at the top. */
  values: Record<string, unknown>;
}

/** Throws ConfigError, each problem naming the file (and the line where there is one). */
export function readYamlFile(file: string, maxBytes: number): YamlFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  if (bytes.length > maxBytes) throw new ConfigError([`${file}: larger than ${maxBytes} bytes`]);
  const lines = new LineCounter();
  const doc = parseDocument(bytes.toString('utf8'), { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = [];
  for (const err of doc.errors) {
    const { line, col } = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    problems.push(`${file}: line ${line}, column ${col}: ${err.message.split('\n')[0]}`);
  }
  if (problems.length) throw new ConfigError(problems);
  // Prototype keys are refused wherever they appear, before the document becomes JavaScript objects.
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && isForbiddenSegment(String(pair.key.value))) {
        const { line, col } = lines.linePos(pair.key.range?.[0] ?? 0);
        problems.push(`${file}: line ${line}, column ${col}: "${String(pair.key.value)}" is not allowed as a key`);
      }
    },
  });
  if (problems.length) throw new ConfigError(problems);
  if (!isMap(doc.contents)) throw new ConfigError([`${file}: line 1: expected a mapping with "version: 1"`]);
  try {
    return { doc, lines, values: doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> };
  } catch (err) {
    // An alias bomb, refused by yaml while expanding: named at its first alias, not expanded.
    let at = 0;
    visit(doc, {
      Alias(_, node) {
        at = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const { line, col } = lines.linePos(at);
    throw new ConfigError([`${file}: line ${line}, column ${col}: ${(err as Error).message.split('\n')[0]}`]);
  }
}
