import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The commands docs/quick-start.md gives, on a fresh clone, in its order: a copy of the sources with no dist/
// (node_modules as `npm ci` leaves it, the workspace package linked to the copy). The first command must build
// what it runs; the next ones must run the build as it is, without compiling again.

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = ['bin', 'src', 'mapping', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
const SANDBOX = ['src', 'package.json', 'tsconfig.json'];

function freshClone(dir: string): string {
  const clone = path.join(dir, 'clone');
  for (const f of SOURCES) cpSync(path.join(ROOT, f), path.join(clone, f), { recursive: true });
  for (const f of SANDBOX)
    cpSync(path.join(ROOT, 'packages/kit-sandbox', f), path.join(clone, 'packages/kit-sandbox', f), {
      recursive: true,
    });
  mkdirSync(path.join(clone, 'node_modules/@convertkit-scim'), { recursive: true });
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name === '@convertkit-scim') continue;
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(clone, 'node_modules', name));
  }
  symlinkSync(path.join(clone, 'packages/kit-sandbox'), path.join(clone, 'node_modules/@convertkit-scim/kit-sandbox'));
  return clone;
}

const env = () => ({ PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: os.tmpdir() });

function run(clone: string, command: string, args: string[], timeout = 60_000) {
  return spawnSync(command, args, { cwd: clone, env: env(), encoding: 'utf8', timeout });
}

describe('the quick start on a fresh clone', () => {
  let dir: string;
  let clone: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cli-'));
    clone = freshClone(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('npx convertkit-scim validate builds the first time, then checks the file', () => {
    expect(existsSync(path.join(clone, 'dist'))).toBe(false);
    // --no-install: the command must come from this project, never from a registry.
    const r = run(
      clone,
      'npx',
      ['--no-install', 'convertkit-scim', 'validate', 'mapping/entra-validator.yaml'],
      540_000,
    );
    expect(r.stderr).toContain('building first (there is no build yet)');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('mapping/entra-validator.yaml: valid');
    expect(existsSync(path.join(clone, 'dist/app/main.js'))).toBe(true);
  }, 600_000);

  it('validate names every problem and exits 1, from the build as it is', () => {
    cpSync(path.join(ROOT, 'test/fixtures/mapping/every-problem.yaml'), path.join(clone, 'every-problem.yaml'));
    const r = run(clone, 'npx', ['--no-install', 'convertkit-scim', 'validate', 'every-problem.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('6 problems in every-problem.yaml');
    expect(r.stderr).not.toContain('building first');
  });

  it('npm run doctor -- --help answers without compiling', () => {
    const r = run(clone, 'npm', ['run', '--silent', 'doctor', '--', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: convertkit-scim doctor/);
    expect(r.stderr).not.toContain('building first');
  });

  it('a source newer than the build is built again before it runs', () => {
    // As if the source had been edited after the last build: the build is made older than it.
    const source = statSync(path.join(clone, 'src/config/mapping/validateCli.ts')).mtime;
    const before = new Date(source.getTime() - 60_000);
    utimesSync(path.join(clone, 'dist/tsconfig.build.tsbuildinfo'), before, before);
    const r = run(clone, process.execPath, ['bin/convertkit-scim.js', 'validate', '--help'], 540_000);
    expect(r.stderr).toContain('building first (the sources changed since the last build)');
    expect(r.status).toBe(0);
    expect(run(clone, process.execPath, ['bin/convertkit-scim.js', 'validate', '--help']).stderr).toBe('');
  }, 600_000);

  it('npm start serves on the built-in Kit sandbox and shuts down cleanly on SIGTERM', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: clone,
      env: { ...env(), PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (/"msg":"listening"/.test(out)) process.kill(-child.pid!, 'SIGTERM');
    });
    child.stderr.on('data', (d) => (err += d.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    // The server's own stream closing, not npm's exit: SIGTERM reaches npm too, which ends by the signal.
    await new Promise((resolve) => child.stdout.once('close', resolve));
    clearTimeout(timer);
    expect(out).toContain('BUILT-IN KIT SANDBOX');
    expect(out).toMatch(/"msg":"listening"/);
    expect(err).not.toContain('building first');
    expect(out).toMatch(/"msg":"shut down"/);
  }, 90_000);
});
