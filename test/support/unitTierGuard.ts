import childProcess from 'node:child_process';
import net from 'node:net';

// The unit tier's contract, enforced: no sockets and no child processes. A unit suite that opens a connection,
// listens, or spawns fails at once with a message saying where it belongs, instead of quietly making the fast
// tier slow and load-sensitive. Jest reuses a worker for both tiers, so everything is put back after the file.

const refuse = (what: string) => () => {
  throw new Error(`unit tier: ${what} is not allowed here; a suite that needs it is named *.e2e.test.ts`);
};

const saved = {
  connect: net.Socket.prototype.connect,
  listen: net.Server.prototype.listen,
  spawn: childProcess.spawn,
  fork: childProcess.fork,
  exec: childProcess.exec,
  execFile: childProcess.execFile,
};

net.Socket.prototype.connect = refuse('opening a socket') as never;
net.Server.prototype.listen = refuse('listening on a port') as never;
childProcess.spawn = refuse('spawning a process') as never;
childProcess.fork = refuse('forking a process') as never;
childProcess.exec = refuse('running a command') as never;
childProcess.execFile = refuse('running a command') as never;

afterAll(() => {
  net.Socket.prototype.connect = saved.connect;
  net.Server.prototype.listen = saved.listen;
  Object.assign(childProcess, {
    spawn: saved.spawn,
    fork: saved.fork,
    exec: saved.exec,
    execFile: saved.execFile,
  });
});
