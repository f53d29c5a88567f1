import { createConnection, createServer, type Socket } from 'node:net';

/** A loopback TCP proxy in front of a Redis server, holding each of its replies back for a settable delay. */
export interface SlowProxy {
  /** `redis://127.0.0.1:<proxy port>`. */
  readonly url: string;
  /** Holds every later reply back by `ms` milliseconds, in order. */
  setDelay(ms: number): void;
  /** Closes every connection and the listening socket. */
  stop(): Promise<void>;
}

/** Starts a {@link SlowProxy} to the server on `port`; replies pass at once until {@link SlowProxy.setDelay}. */
export async function startSlowProxy(port: number): Promise<SlowProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const server = createServer(client => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    client.on('data', chunk => upstream.write(chunk));
    upstream.on('data', chunk => {
      setTimeout(() => client.write(chunk), delayMs);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    setDelay: ms => {
      delayMs = ms;
    },
    stop: () =>
      new Promise<void>(resolve => {
        sockets.forEach(socket => socket.destroy());
        server.close(() => resolve());
      }),
  };
}
