import type { Document, LineCounter } from 'yaml';
import type { Path } from './envInterpolation';
import { TENANT_ID_PATTERN } from './model';

// Problems of a tenants file, each naming the file, the line and the key path (`tenants.1.kit.apiKey`), and the
// tenant's id where it is known, so a reload refused on SIGHUP says in one log line what to fix. Messages are
// written by this module's callers and never carry a value from the file.

export class FileProblems {
  readonly list: string[] = [];

  constructor(
    private readonly name: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** The ids of the tenants entries, by index, once they are known (for "(tenant "brand-a")"). */
    private ids: ReadonlyArray<unknown> = [],
  ) {}

  knowIds(ids: ReadonlyArray<unknown>): void {
    this.ids = ids;
  }

  at(path: Path, message: string): void {
    const key = path.length ? path.join('.') : 'file';
    const id = path[0] === 'tenants' && typeof path[1] === 'number' ? this.ids[path[1]] : undefined;
    // An id is named only when it is a valid one: an invalid "id" could be anything, a secret pasted by mistake.
    const tenant = typeof id === 'string' && TENANT_ID_PATTERN.test(id) && path[2] !== 'id' ? ` (tenant "${id}")` : '';
    this.list.push(`${this.name}: ${this.lineOf(path)}: ${key}${tenant}: ${message}`);
  }

  get any(): boolean {
    return this.list.length > 0;
  }

  /** Where a path of the document is: the node itself, or the nearest parent that exists. */
  private lineOf(path: Path): string {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        const { line, col } = this.lines.linePos(node.range[0]);
        return `line ${line}, column ${col}`;
      }
    }
    return 'line 1';
  }
}
