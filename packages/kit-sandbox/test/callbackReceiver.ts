import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny local HTTP server that records the JSON POSTed to it (bulk callbacks, webhook deliveries). */
export async function startReceiver() {
  const received: Array<{ path: string; body: any }> = [];
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '/', body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /**
     * Resolves once `count` requests have arrived. Each arrival wakes it; a bounded number of 50 ms waits
     * (`attempts`, 10 s in all) turns a delivery that never comes into a failure instead of a hang.
     */
    async waitFor(count: number, attempts = 200) {
      for (let attempt = 0; received.length < count; attempt++) {
        if (attempt >= attempts) throw new Error(`expected ${count} deliveries, got ${received.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
