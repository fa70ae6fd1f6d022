import { MappingFileError } from './mappingFile';
import { loadMapping } from './mappingSource';
import { fieldLabels } from './model';

// `convertkit-scim validate [file]`: checks a mapping file exactly as the server's start-up would, without
// starting the server or calling Kit. Exit code 0: valid; 1: problems (each naming its line); 2: bad arguments.

export interface ValidateIo {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = 'usage: convertkit-scim validate [mapping.yaml]   (default: $SCIM_MAPPING_FILE)\n';

export function validateCli(args: string[], io: ValidateIo): number {
  if (args.some((a) => a === '--help' || a === '-h')) {
    io.stdout(USAGE);
    return 0;
  }
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    io.stderr(USAGE);
    return 2;
  }
  const file = args[0] ?? io.env.SCIM_MAPPING_FILE;
  if (!file) {
    io.stderr(`no mapping file named and SCIM_MAPPING_FILE is not set\n${USAGE}`);
    return 2;
  }
  try {
    const mapping = loadMapping(file);
    const labels = fieldLabels(mapping);
    const lines = [
      `${file}: valid`,
      ...mapping.user.map(
        (a) =>
          `  ${a.source.text} -> ${a.target.kind === 'field' ? `custom field "${a.target.label}"` : a.target.kind} (${a.type})`,
      ),
      ...mapping.extensions.map(
        (e) =>
          `  extension ${e.id} (${e.required ? 'required' : 'optional'}): ${e.attributes.map((a) => a.name).join(', ')}`,
      ),
      `  ${labels.length} custom field(s) created at start-up when missing`,
    ];
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof MappingFileError)) throw err;
    const count = err.problems.length;
    io.stderr(`${err.message}\n${count} problem${count === 1 ? '' : 's'} in ${file}\n`);
    return 1;
  }
}
