import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  type Dirent,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { dockerfileStages, type Stage, stageEnv, stageWorkdir } from '../support/dockerfile';
import { oktaUser } from '../support/harness';
import { describeRedis, redisUrl } from '../support/redis';

// The Docker image's runtime stage without a Docker daemon: its files laid out in a temporary root as its COPY and
// RUN lines say (dist/ as `npm run build` emits it, the mapping files, node_modules as `npm ci --omit=dev` leaves
// it, the data directory), its ENV and CMD parsed from the Dockerfile, and the app folder made read-only. The
// server runs there in each documented configuration (one tenant, a tenants file, Redis), provisions a user, and
// every file it wrote must be under DATA_DIR. (Tests run as root here, which read-only modes do not stop: the
// whole root is compared before and after instead.)

const ROOT = path.resolve(__dirname, '../..');
const SANDBOX_PACKAGE = '@convertkit-scim/kit-sandbox';
const TOKEN = 'image-layout-token-0123456789abcdef0123';
const RECEIVER_TOKEN = 'image-layout-receiver-0123456789abcdef01';

function compilerOptions(configFile: string): ts.CompilerOptions {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, host);
  if (!parsed) throw new Error(`cannot read ${configFile}`);
  return { ...parsed.options, sourceMap: false, declaration: false, composite: false };
}

/** `npm run build`'s output, file by file (isolatedModules: the same JavaScript). */
function build(outDir: string): void {
  const options = compilerOptions(path.join(ROOT, 'tsconfig.build.json'));
  const srcDir = path.join(ROOT, 'src');
  for (const entry of readdirSync(srcDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const out = path.join(outDir, path.relative(srcDir, file)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}

interface Image {
  /** Stands for `/`: the image's absolute paths are under it. */
  root: string;
  app: string;
  env: Record<string, string>;
  /** CMD's program and arguments, `node` being this Node. */
  command: string[];
}

const inRoot = (root: string, p: string) => path.join(root, p);

/** The runtime stage's instructions carried out in `root`: what each does to the file system. */
function layOut(stage: Stage, root: string, dist: string): Image {
  const workdir = stageWorkdir(stage);
  const app = inRoot(root, workdir);
  mkdirSync(app, { recursive: true });
  let command: string[] | undefined;
  for (const instruction of stage.instructions) {
    const [keyword, ...args] = instruction.split(/\s+/);
    if (keyword === 'COPY') {
      const from = args[0].startsWith('--from=') ? args.shift() : undefined;
      const destination = args.pop()!;
      // Several sources, or a destination ending in "/": into that folder; else the destination is the copy.
      const intoFolder = args.length > 1 || destination.endsWith('/');
      for (const source of args) {
        const src = from ? (source === '/app/dist' ? dist : undefined) : path.join(ROOT, source);
        if (!src) throw new Error(`no stand-in for ${instruction}`);
        const target = path.resolve(app, destination);
        cpSync(src, intoFolder ? path.join(target, path.basename(source)) : target, { recursive: true });
      }
    } else if (keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(instruction)) {
      // The installed packages as this checkout has them, less the development-only sandbox workspace package.
      mkdirSync(path.join(app, 'node_modules'));
      for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
        if (name === SANDBOX_PACKAGE.split('/')[0] || name === '.bin') continue;
        symlinkSync(path.join(ROOT, 'node_modules', name), path.join(app, 'node_modules', name));
      }
    } else if (keyword === 'RUN') {
      for (const made of instruction.matchAll(/mkdir -p (\S+)/g)) mkdirSync(inRoot(root, made[1]), { recursive: true });
    } else if (keyword === 'CMD') {
      command = JSON.parse(args.join(' ')) as string[];
    }
  }
  if (!command || command[0] !== 'node') throw new Error('the runtime stage has no CMD ["node", ...]');
  const env = stageEnv(stage);
  return {
    root,
    app,
    env: { ...env, DATA_DIR: inRoot(root, env.DATA_DIR) },
    command: [process.execPath, ...command.slice(1)],
  };
}

/** Every file and folder under `dir` (symlinks not followed) with what would show a write to it. */
function snapshot(dir: string): Map<string, string> {
  const seen = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }) as Dirent[]) {
      const p = path.join(d, entry.name);
      const s = lstatSync(p);
      seen.set(p, `${s.mode}:${s.size}:${s.mtimeMs}`);
      if (entry.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return seen;
}

function written(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([p, v]) => before.get(p) !== v).map(([p]) => p);
}

interface Running {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<number | null>;
}

/** CMD in the app folder with the image's ENV and `env`; resolves once it logs "listening". */
function run(image: Image, env: Record<string, string>): Promise<Running> {
  const child = spawn(image.command[0], image.command.slice(1), {
    cwd: image.app,
    env: { PATH: process.env.PATH ?? '', ...image.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not start:\n${out}`));
    }, 45_000);
    child.stdout.on('data', () => {
      const listening = out.match(/"port":(\d+)[^\n]*"msg":"listening"/);
      if (!listening) return;
      clearTimeout(timer);
      resolve({
        child,
        url: `http://127.0.0.1:${listening[1]}`,
        output: () => out,
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

/** Creates a user; a 503 (the tenant's own start-up checks against Kit still running) is asked again. */
async function provision(scimBase: string, email: string): Promise<void> {
  let status = 0;
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await fetch(`${scimBase}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(oktaUser(email)),
    });
    status = res.status;
    if (status !== 503) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe(201);
}

const OAUTH = {
  clientId: 'image-app',
  clientSecret: 'image-client-secret-0123456789',
  refreshToken: 'image-refresh-0',
};

describe('the Docker image runtime stage, laid out without a daemon', () => {
  let dir: string;
  let dist: string;
  let kit: KitSandbox;
  let config: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'image-layout-'));
    dist = path.join(dir, 'build', 'dist');
    build(dist);
    // Configuration mounted beside the image (read-only to the server, as a ConfigMap or secret volume is).
    config = path.join(dir, 'config');
    mkdirSync(config);
  });
  // A Kit of its own per configuration: a refresh token is spent by the first server that uses it.
  beforeEach(async () => {
    kit = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 }, oauth: OAUTH });
  });
  afterEach(() => kit.close());
  afterAll(() => {
    if (dir) {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A fresh image root per configuration: the app folder read-only, DATA_DIR empty. */
  function freshImage(name: string): Image {
    const stage = dockerfileStages().get('runtime');
    if (!stage) throw new Error('the Dockerfile has no runtime stage');
    const laidOut = layOut(stage, path.join(dir, name), dist);
    for (const p of snapshot(laidOut.app).keys())
      if (!p.startsWith(laidOut.env.DATA_DIR) && !lstatSync(p).isSymbolicLink())
        chmodSync(p, lstatSync(p).isDirectory() ? 0o555 : 0o444);
    chmodSync(laidOut.app, 0o555);
    return laidOut;
  }

  /** Runs a configuration, provisions through `scimPath`, stops; the paths written under the image's root. */
  async function writes(img: Image, env: Record<string, string>, scimPath: string): Promise<string[]> {
    const before = snapshot(img.root);
    const server = await run(img, env);
    try {
      await ready(server.url);
      await provision(`${server.url}${scimPath}`, `${path.basename(img.root)}@example.test`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${server.output()}`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.output()).not.toContain(TOKEN);
    return written(before, snapshot(img.root));
  }

  it('the stage is what the image runs: Node LTS ENV with DATA_DIR, dist/ and the mappings', () => {
    const img = freshImage('layout');
    expect(readdirSync(img.app).sort()).toEqual([
      'data',
      'dist',
      'mapping',
      'node_modules',
      'package-lock.json',
      'package.json',
    ]);
    expect(img.env).toMatchObject({ NODE_ENV: 'production', DATA_DIR: path.join(img.root, 'app', 'data') });
    expect(img.command.slice(1)).toContain('dist/app/main.js');
  });

  it('one tenant: OAuth tokens, the event-signing key and a relative AUDIT_LOG land in DATA_DIR', async () => {
    const img = freshImage('single');
    const paths = await writes(
      img,
      {
        KIT_API_URL: kit.url,
        KIT_REFRESH_TOKEN: OAUTH.refreshToken,
        KIT_CLIENT_ID: OAUTH.clientId,
        KIT_CLIENT_SECRET: OAUTH.clientSecret,
        SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
        SCIM_MAPPING_FILE: 'mapping/default.yaml',
        PUBLIC_BASE_URL: 'https://scim.example.test',
        KIT_WEBHOOKS: 'off',
        SCIM_EVENTS_RECEIVERS: `iga=${RECEIVER_TOKEN}`,
        AUDIT_LOG: 'audit.log',
      },
      '/scim/v2',
    );
    const data = img.env.DATA_DIR;
    expect(paths.filter((p) => !p.startsWith(`${data}${path.sep}`) && p !== data)).toEqual([]);
    expect(readdirSync(data).sort()).toEqual(['.kit-tokens.json', '.scim-events-key.json', 'audit.log']);
    expect(readFileSync(path.join(data, 'audit.log'), 'utf8')).toMatch(/"operation":"create","resourceType":"User"/);
    // The rotated pair was kept: the sandbox's latest refresh token is the file's.
    expect(readFileSync(path.join(data, '.kit-tokens.json'), 'utf8')).toContain(kit.oauthTokens()!.refreshToken);
  });

  it('a tenants file: each tenant’s token file in DATA_DIR, none beside the file', async () => {
    const img = freshImage('tenants');
    const file = path.join(config, 'tenants.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tenants:',
        '  - id: brand-a',
        '    kit:',
        '      apiKey: ${BRAND_A_KIT_KEY}',
        `      baseUrl: ${kit.url}`,
        `    bearerTokens: [{ name: okta, token: "${TOKEN}" }]`,
        '  - id: brand-b',
        '    kit:',
        `      baseUrl: ${kit.url}`,
        '      oauth:',
        `        refreshToken: ${OAUTH.refreshToken}`,
        `        clientId: ${OAUTH.clientId}`,
        '        clientSecret: ${BRAND_B_CLIENT_SECRET}',
        `    bearerTokens: [{ name: okta, token: "${TOKEN.replace('image', 'brand')}" }]`,
        '',
      ].join('\n'),
    );
    const beforeConfig = snapshot(config);
    const paths = await writes(
      img,
      { TENANTS_FILE: file, BRAND_A_KIT_KEY: kit.apiKey, BRAND_B_CLIENT_SECRET: OAUTH.clientSecret, AUDIT_LOG: 'off' },
      '/tenants/brand-a/scim/v2',
    );
    const data = img.env.DATA_DIR;
    expect(paths.filter((p) => !p.startsWith(`${data}${path.sep}`) && p !== data)).toEqual([]);
    expect(readdirSync(data)).toEqual(['.kit-tokens-brand-b.json']);
    expect(written(beforeConfig, snapshot(config))).toEqual([]);
  });

  describeRedis('with Redis', () => {
    it('starts and provisions; what it writes is under DATA_DIR', async () => {
      const img = freshImage('redis');
      const paths = await writes(
        img,
        {
          KIT_API_URL: kit.url,
          KIT_API_KEY: kit.apiKey,
          SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
          REDIS_URL: redisUrl!,
          AUDIT_LOG: 'audit.log',
        },
        '/scim/v2',
      );
      const data = img.env.DATA_DIR;
      expect(paths.filter((p) => !p.startsWith(`${data}${path.sep}`) && p !== data)).toEqual([]);
      expect(readdirSync(data)).toEqual(['audit.log']);
    });
  });
});
