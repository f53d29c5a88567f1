import WebSocket from 'ws';

/** What a WebSocket client saw: the socket, open, or the answer that refused the upgrade. */
export type UpgradeResult =
  | { opened: true; status: 101; socket: WebSocket; protocol: string }
  | {
      opened: false;
      status: number;
      headers: Record<string, string | string[] | undefined>;
      body: string;
    };

/**
 * Opens a WebSocket with a real `ws` client and resolves once it is open or refused (with the refusal's status,
 * headers and body).
 *
 * @param url - The `ws://` URL.
 * @param options - Sub-protocols to offer and headers to send. Defaults to none.
 */
export function openWebSocket(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    socket.once('open', () =>
      resolve({ opened: true, status: 101, socket, protocol: socket.protocol }),
    );
    socket.once('unexpected-response', (request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', chunk => chunks.push(chunk));
      response.once('end', () => {
        request.destroy();
        resolve({
          opened: false,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    socket.once('error', reject);
  });
}

/** Resolves when the socket has closed, with its close code. */
export function closed(socket: WebSocket): Promise<number> {
  if (socket.readyState === WebSocket.CLOSED) {
    return Promise.resolve(1006);
  }
  return new Promise(resolve => socket.once('close', code => resolve(code)));
}
