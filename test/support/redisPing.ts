import net from 'node:net';

/**
 * Whether a Redis answers PING at `url`, over a plain socket that is always destroyed before this resolves.
 * Not ioredis: an ioredis client disconnected after a refused connection leaves a 2 s timer behind (its
 * disconnectTimeout on a stream that already closed), which kept Jest from exiting after the suite.
 */
export function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      socket.write('PING\r\n');
      socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  });
}
