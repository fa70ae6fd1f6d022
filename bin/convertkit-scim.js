#!/usr/bin/env node
'use strict';
// The command a user runs (`npx convertkit-scim …`, `npm start`, `npm run doctor`): it runs the built server, and
// builds it first only when the TypeScript sources are newer than the last build. Checking file times here takes
// milliseconds; even an up-to-date `tsc -b` spends seconds loading the compiler, and a fresh clone has no build
// at all, so a bin entry pointing into dist/ would not exist yet ("convertkit-scim: not found").
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist/app/main.js');
/**
 * The two projects tsc -b builds, each with what it reads and the build-info file it writes when it builds. The
 * app reads the sandbox package too, so a change there is a change to the app (tsc -b rebuilds both).
 */
const sandboxInputs = ['packages/kit-sandbox/src', 'packages/kit-sandbox/tsconfig.json'];
const projects = [
  { inputs: sandboxInputs, buildInfo: 'packages/kit-sandbox/dist/tsconfig.tsbuildinfo' },
  {
    inputs: ['src', 'tsconfig.json', 'tsconfig.build.json', ...sandboxInputs],
    buildInfo: 'dist/tsconfig.build.tsbuildinfo',
  },
];

function newestTime(file) {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(file)) newest = Math.max(newest, newestTime(path.join(file, name)));
  return newest;
}

function stale() {
  if (!existsSync(entry)) return 'there is no build yet';
  for (const { inputs, buildInfo } of projects) {
    const built = statSync(path.join(root, buildInfo), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    const changed = Math.max(...inputs.map((f) => newestTime(path.join(root, f))));
    if (changed > built) return 'the sources changed since the last build';
  }
  return undefined;
}

const why = existsSync(path.join(root, 'src')) ? stale() : undefined;
if (why) {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    // A production install (npm ci --omit=dev) has no compiler: it runs what was built, or says how to build.
    if (!existsSync(entry)) {
      process.stderr.write('convertkit-scim: no build in dist/; run `npm ci` and `npm run build` first\n');
      process.exit(1);
    }
  }
  if (tsc) {
    process.stderr.write(`convertkit-scim: building first (${why})…\n`);
    const build = spawnSync(process.execPath, [tsc, '-b', path.join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: 'inherit',
    });
    if (build.status !== 0 && !existsSync(entry)) process.exit(build.status ?? 1);
  }
}
require(entry);
