import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

// A real convertkit-scim process (src/app/main.ts through tsx), for multi-replica, shutdown and reload tests.

/** The Kit sandbox's standalone entry (`npm run sandbox`), for benchmarks that run Kit in a process of its own. */
export const KIT_SANDBOX_MAIN = require.resolve('@convertkit-scim/kit-sandbox/src/app/main.ts');

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
  const root = path.resolve(__dirname, '../..');
  // tsx's loader inside the one process, not its CLI: the CLI runs the server as a child of its own and relays
  // only SIGINT and SIGTERM, so a SIGHUP (tenants reload, issue #18) would end the CLI instead of reaching us.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/app/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), timeoutMs);
      const check = () => {
        const listening = out.match(/"port":(\d+)[^\n]*"msg":"listening"/);
        if (listening) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      };
      child.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${out}`));
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
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}
