import { readFileSync } from 'node:fs';
import { ConfigError } from '../environment';
import { readYamlDocument, type YamlDocument } from '../../platform/yamlDocument';

// A YAML configuration file from disk, bounded in size, read as src/yaml/yamlDocument.ts reads them all.

export type YamlFile = YamlDocument;

/** Throws ConfigError, each problem naming the file (and the line where there is one). */
export function readYamlFile(file: string, maxBytes: number): YamlFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  if (bytes.length > maxBytes) throw new ConfigError([`${file}: larger than ${maxBytes} bytes`]);
  const reading = readYamlDocument(bytes.toString('utf8'), file);
  if (!reading.ok) throw new ConfigError(reading.problems);
  return { doc: reading.doc, lines: reading.lines, values: reading.values };
}
