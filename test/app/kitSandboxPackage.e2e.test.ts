import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

// The production image's layout without Docker: the app compiled as `npm run build` emits it (isolatedModules,
// so file-by-file transpiling is the same JavaScript) and node_modules as `npm ci --omit=dev` leaves it, that is
// without the Kit sandbox workspace package. Started without a Kit credential, the server must stop with one
// clear line; with the package installed, the same compiled app loads it by name and runs on it.

const ROOT = path.resolve(__dirname, '../..');
const SANDBOX_PACKAGE = '@convertkit-scim/kit-sandbox';

function compilerOptions(configFile: string): ts.CompilerOptions {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, host);
  if (!parsed) throw new Error(`cannot read ${configFile}`);
  return { ...parsed.options, sourceMap: false, declaration: false, composite: false };
}

/** Every .ts file under `srcDir` as JavaScript under `outDir`, same relative paths. */
function transpileTree(srcDir: string, outDir: string, options: ts.CompilerOptions): void {
  for (const entry of readdirSync(srcDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const out = path.join(outDir, path.relative(srcDir, file)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}

/** An app folder: dist/ and node_modules holding every installed package except the sandbox. */
function productionLayout(dir: string, dist: string): string {
  const app = path.join(dir, 'app');
  cpSync(dist, path.join(app, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  mkdirSync(path.join(app, 'node_modules'));
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name === SANDBOX_PACKAGE.split('/')[0]) continue;
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(app, 'node_modules', name));
  }
  return app;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/app/main.js` with no Kit credential; stopped with SIGTERM once it logs "listening". */
function startWithoutKit(app: string): Promise<Run> {
  const child = spawn(process.execPath, ['dist/app/main.js'], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    run.stdout += d.toString();
    if (/"msg":"listening"/.test(run.stdout)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d) => {
    run.stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    }),
  );
}

describe('the Kit sandbox package in a production install', () => {
  let dir: string;
  let appDist: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kit-sandbox-package-'));
    appDist = path.join(dir, 'build', 'dist');
    transpileTree(path.join(ROOT, 'src'), appDist, compilerOptions(path.join(ROOT, 'tsconfig.build.json')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('absent: starting without a Kit credential stops with one line naming what to set, no stack', async () => {
    const app = productionLayout(path.join(dir, 'absent'), appDist);
    const run = await startWithoutKit(app);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        /^convertkit-scim failed to start: the built-in Kit sandbox is not part of this build; set KIT_API_KEY /,
      ),
    ]);
  });

  it('installed: the compiled app loads it by its package name and serves on it', async () => {
    const app = productionLayout(path.join(dir, 'installed'), appDist);
    const installed = path.join(app, 'node_modules', SANDBOX_PACKAGE);
    const sandboxRoot = path.join(ROOT, 'packages', 'kit-sandbox');
    cpSync(path.join(sandboxRoot, 'package.json'), path.join(installed, 'package.json'));
    transpileTree(
      path.join(sandboxRoot, 'src'),
      path.join(installed, 'dist'),
      compilerOptions(path.join(sandboxRoot, 'tsconfig.json')),
    );
    const run = await startWithoutKit(app);
    expect(run.stdout).toContain('BUILT-IN KIT SANDBOX');
    expect(run.stdout).toMatch(/"msg":"listening"/);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
