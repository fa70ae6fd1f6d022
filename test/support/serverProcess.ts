import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

// A real convertkit-scim process (src/app/main.ts through tsx), for multi-replica, shutdown and reload tests.

/** The Kit sandbox's standalone entry (`npm run sandbox`), for benchmarks that run Kit in a process of its own. */
export const KIT_SANDBOX_MAIN = require.resolve('@convertkit-scim/kit-sandbox/src/main.ts');

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/**
 * Starts src/app/main.ts and resolves once it logs "listening". PORT=0: the server binds a free port itself and
 * logs it. (A port found free here and handed over would be free only until someone else took it: on a busy
 * machine the server, seconds later, met EADDRINUSE.) A server that does not start is killed, never left.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 30000): Promise<ServerProcess> {
  const { child, output, exited } = spawnServer({ ...env, PORT: '0' });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output()}`)), timeoutMs);
      const check = () => {
        const listening = output().match(/"port":(\d+)[^\n]*"msg":"listening"/);
        if (listening) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      };
      child.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${output()}`));
      });
    });
  } catch (e) {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

/** src/app/main.ts on 127.0.0.1 with only `env` (PORT included), its stdout and stderr in one text as they came. */
function spawnServer(env: Record<string, string>): {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
} {
  const root = path.resolve(__dirname, '../..');
  // tsx's loader inside the one process, not its CLI: the CLI runs the server as a child of its own and relays
  // only SIGINT and SIGTERM, so a SIGHUP (tenants reload) would end the CLI instead of reaching us.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/app/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/**
 * Runs src/app/main.ts until it exits on its own (a start-up it refuses), with `env` as given (PORT included):
 * its exit code, and stdout and stderr apart. Killed, and the test failed, if it is still running at `timeoutMs`.
 */
export async function runServerProcessToExit(
  env: Record<string, string>,
  timeoutMs = 30000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child, exited } = spawnServer(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  if (code === null) throw new Error(`server did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`);
  return { code, stdout, stderr };
}
