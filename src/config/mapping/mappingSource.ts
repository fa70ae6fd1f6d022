import { readFileSync } from 'node:fs';
import { unreadableFile } from '../filePaths';
import { DEFAULT_MAPPING } from './defaultMapping';
import { MAX_MAPPING_FILE_BYTES, MappingFileError, parseMappingFile } from './mappingFile';
import type { AttributeMapping } from './model';

// The one place a mapping file is read from disk (config.ts at start-up, the `validate` command).

/** The mapping in a file, or the built-in default (mapping/default.yaml) when no file is named. */
export function loadMapping(file: string | undefined): AttributeMapping {
  if (!file) return DEFAULT_MAPPING;
  const unusable = unreadableFile(file);
  if (unusable) throw new MappingFileError([unusable]);
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_MAPPING_FILE_BYTES)
      throw new MappingFileError([`${file}: larger than ${MAX_MAPPING_FILE_BYTES} bytes`]);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof MappingFileError) throw err;
    throw new MappingFileError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseMappingFile(text, file);
}
