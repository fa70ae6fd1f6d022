import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TENANT_VARIABLES } from '../src/config/tenants/tenantsFile';
import { dockerfileStages, stageEnv, stageWorkdir } from './support/dockerfile';

// The production image leaves the Kit sandbox out: its runtime stage installs without development dependencies
// (the sandbox is one) and copies only the app's compiled dist/, which the app's build confines to src/.
// (test/app/kitSandboxPackage.e2e.test.ts runs that layout; test/app/imageLayout.e2e.test.ts runs the runtime
// stage's files, ENV and one writable directory in every documented configuration.)

const ROOT = path.resolve(__dirname, '..');
const SANDBOX_PACKAGE = '@convertkit-scim/kit-sandbox';

const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

describe('Dockerfile', () => {
  const byStage = dockerfileStages();
  const runtime = byStage.get('runtime')?.instructions ?? [];
  const build = byStage.get('build')?.instructions ?? [];

  it('both stages run on a supported Node LTS (22 or 24), the same one', () => {
    const images = [byStage.get('build')?.image, byStage.get('runtime')?.image];
    for (const image of images) expect(image).toMatch(/^node:(22|24)(\.\d+)*-slim$/);
    expect(new Set(images).size).toBe(1);
  });

  it('runtime stage: sets DATA_DIR and no tenant setting, so a tenants file starts as well as one tenant', () => {
    const env = stageEnv(byStage.get('runtime')!);
    expect(env.DATA_DIR).toBe(`${stageWorkdir(byStage.get('runtime')!)}/data`);
    for (const name of Object.keys(env)) {
      expect(TENANT_VARIABLES as readonly string[]).not.toContain(name);
      expect(name).not.toMatch(/^SCIM_EVENTS_/);
    }
  });

  it('runtime stage: DATA_DIR is made and given to the user the server runs as, before it becomes that user', () => {
    const env = stageEnv(byStage.get('runtime')!);
    const user = runtime.findIndex((i) => /^USER\s/.test(i));
    expect(runtime[user]).toBe('USER node');
    const made = runtime.findIndex(
      (i) => i.includes(`mkdir -p ${env.DATA_DIR}`) && i.includes(`chown node:node ${env.DATA_DIR}`),
    );
    expect(made).toBeGreaterThanOrEqual(0);
    expect(made).toBeLessThan(user);
    // Nothing else is handed to the server user: the app files stay read-only to it.
    expect(runtime.filter((i) => /chown|chmod|--chown/.test(i))).toHaveLength(1);
  });

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
