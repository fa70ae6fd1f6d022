import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileTokenStore } from '../../src/kit/tokenStore';

describe('FileTokenStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kit-tokens-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('returns null when nothing was saved yet', async () => {
    expect(await new FileTokenStore(path.join(dir, 'tokens.json')).load()).toBeNull();
  });

  it('saves atomically with mode 0600 and loads what it saved', async () => {
    const file = path.join(dir, 'nested', 'tokens.json');
    const store = new FileTokenStore(file);
    await store.save({ accessToken: 'a1', refreshToken: 'r1', seed: 's' });
    await store.save({ accessToken: 'a2', refreshToken: 'r2', seed: 's' });
    const stat = await fs.stat(file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await store.load()).toMatchObject({ accessToken: 'a2', refreshToken: 'r2', seed: 's' });
    expect(await new FileTokenStore(file).load()).toMatchObject({ accessToken: 'a2' });
    // No temp files left behind.
    expect(await fs.readdir(path.dirname(file))).toEqual(['tokens.json']);
  });

  it('keeps the last of concurrent saves', async () => {
    const file = path.join(dir, 'tokens.json');
    const store = new FileTokenStore(file);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.save({ accessToken: `a${i}` })));
    expect((await store.load())?.accessToken).toBe('a9');
  });

  it('reports a corrupt file without echoing its content', async () => {
    const file = path.join(dir, 'tokens.json');
    await fs.writeFile(file, '{"accessToken": "secret-value", broken');
    const err = await new FileTokenStore(file).load().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err.message)).not.toContain('secret-value');
  });
});
