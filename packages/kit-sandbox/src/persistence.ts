import { readFile, rename, writeFile } from 'node:fs/promises';
import { type SandboxSnapshot, SNAPSHOT_VERSION } from './snapshot';

// KitSandboxOptions.dataFile: the account survives a restart (and so do rotated OAuth tokens, which a client
// has persisted on its side). Saves are debounced so a burst of writes costs one file write, and written to a
// temporary file first so a crash never leaves half a snapshot.

export async function readSnapshot(path: string): Promise<SandboxSnapshot | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const snap = JSON.parse(text) as SandboxSnapshot;
  if (snap.version !== SNAPSHOT_VERSION) {
    throw new Error(`kit sandbox data file ${path} has version ${snap.version}; expected ${SNAPSHOT_VERSION}`);
  }
  return snap;
}

export class SnapshotWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly path: string,
    private readonly capture: () => SandboxSnapshot,
    private readonly debounceMs = 250,
  ) {}

  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().catch((e) => console.error('[kit-sandbox] could not save the data file:', e));
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Writes now if anything changed since the last write. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const text = JSON.stringify(this.capture());
    const tmp = `${this.path}.${process.pid}.tmp`;
    this.writing = writeFile(tmp, text, 'utf8').then(() => rename(tmp, this.path));
    await this.writing;
  }
}
