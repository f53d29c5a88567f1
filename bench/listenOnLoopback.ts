import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Node's cap on the request line plus headers, raised so a 64 KiB path reaches the router.
 *
 * @remarks
 * With Node's default (16 KiB) the server answers 431 before express runs, and the long-path scenario
 * would measure Node's parser instead of the policy matcher.
 */
export const MAX_HEADER_SIZE = 128 * 1024;

/** A server listening on 127.0.0.1 and the way to close it. */
export interface LoopbackServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `app` on 127.0.0.1 at a port the OS picks.
 *
 * @param app - the request listener, usually an express app.
 */
export async function listenOnLoopback(app: RequestListener): Promise<LoopbackServer> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close(error => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
