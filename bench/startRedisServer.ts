import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** How long redis-server may take to accept a PING. */
const READY_TIMEOUT_MS = 10_000;

/** A redis-server the bench owns, and how to talk to it. */
export interface BenchRedis {
  url: string;
  /** How many keys the server holds. */
  dbSize(): Promise<number>;
  /** Deletes every key of the database (`FLUSHDB`). */
  flushDb(): Promise<void>;
  /** Kills the server by its pid and waits for it to exit. */
  stop(): Promise<void>;
}

async function findFreePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>(resolve => probe.close(() => resolve()));
  if (!address || typeof address === 'string') {
    throw new Error('could not find a free loopback port');
  }
  return address.port;
}

/**
 * Starts a private, non-persistent redis-server on a free loopback port.
 *
 * @remarks
 * The bench never touches any other Redis. Persistence is off so nothing is written to disk.
 *
 * @param binary - the redis-server executable.
 */
export async function startRedisServer(binary: string): Promise<BenchRedis> {
  const port = await findFreePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);

  const stop = async () => {
    client.disconnect();
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await Promise.race([client.connect().then(() => client.ping()), spawnFailed]);
      break;
    } catch (error) {
      if (Date.now() > deadline || (error as NodeJS.ErrnoException).code === 'ENOENT') {
        await stop().catch(() => undefined);
        throw new Error(`redis-server (${binary}) did not start on port ${port}: ${error}`, {
          cause: error,
        });
      }
      client.disconnect();
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    dbSize: () => client.dbsize(),
    flushDb: async () => {
      await client.flushdb();
    },
    stop,
  };
}
