import { readFileSync } from 'node:fs';
import path from 'node:path';

// The production image leaves the Kit sandbox out: its runtime stage installs without development dependencies
// (the sandbox is one) and copies only the app's compiled dist/, which the app's build confines to src/.
// (test/app/kitSandboxPackage.e2e.test.ts runs that layout.)

const ROOT = path.resolve(__dirname, '..');
const SANDBOX_PACKAGE = '@convertkit-scim/kit-sandbox';

/** Dockerfile instructions by stage name, continuation lines joined and comments dropped. */
function stages(dockerfile: string): Map<string, string[]> {
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const byStage = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const instruction of instructions) {
    const from = instruction.match(/^FROM\s+\S+\s+AS\s+(\S+)/i);
    if (from) byStage.set(from[1], (current = []));
    else current?.push(instruction);
  }
  return byStage;
}

const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

describe('Dockerfile', () => {
  const byStage = stages(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = byStage.get('runtime') ?? [];
  const build = byStage.get('build') ?? [];

  it('runtime stage: every install omits development dependencies', () => {
    const installs = runtime.filter((i) => /^RUN\b.*\bnpm (ci|install|i)\b/.test(i));
    expect(installs).not.toHaveLength(0);
    for (const install of installs) expect(install).toMatch(/--omit=dev\b/);
  });

  it('runtime stage: copies the build stage dist/ only, and no sandbox or source folder from the context', () => {
    const copies = runtime.filter((i) => /^COPY\b/.test(i));
    const fromBuild = copies.filter((i) => /--from=/.test(i));
    expect(fromBuild).toEqual(['COPY --from=build /app/dist ./dist']);
    for (const copy of copies) expect(copy).not.toMatch(/\bpackages\b|\bsrc\b|sandbox|node_modules/);
  });

  it('build stage: has the sandbox package to build the app against', () => {
    expect(build).toContain('COPY packages ./packages');
    // Its package.json before `npm ci`, so the workspace link is installed with the rest.
    const manifest = build.findIndex((i) => /packages\/kit-sandbox\/package\.json/.test(i));
    expect(manifest).toBeGreaterThanOrEqual(0);
    expect(manifest).toBeLessThan(build.findIndex((i) => /^RUN npm ci\b/.test(i)));
  });

  it('the app depends on the sandbox for development only, and its build compiles src/ alone', () => {
    const app = json('package.json');
    expect(app.devDependencies[SANDBOX_PACKAGE]).toBeDefined();
    expect(app.dependencies[SANDBOX_PACKAGE]).toBeUndefined();
    expect(json('packages/kit-sandbox/package.json').name).toBe(SANDBOX_PACKAGE);
    const buildConfig = json('tsconfig.build.json');
    expect(buildConfig.include).toEqual(['src']);
    expect(buildConfig.compilerOptions.rootDir).toBe('src');
  });
});
