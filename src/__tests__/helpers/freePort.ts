import { createServer } from 'node:net';

/** Asks the OS for a loopback port that is free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise(resolve => server.close(resolve));
  if (!address || typeof address === 'string') {
    throw new Error('Could not read the port of a loopback listener');
  }
  return address.port;
}
