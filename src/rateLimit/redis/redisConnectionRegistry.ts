import type { LoggerService } from '@backstage/backend-plugin-api';
import { createIoredisConnection } from './createIoredisConnection';
import { createRedisOutageTracker, type RedisOutageTracker } from './createRedisOutageTracker';
import { parseRedisConnection } from './parseRedisConnection';
import type { RedisConnection } from './types';

/**
 * A store's share of a process-wide Redis connection.
 *
 * @internal
 */
export interface RedisConnectionLease {
  /** The connection, shared with every other store given the same `connection` option. */
  connection: RedisConnection;
  /** The outage state of that connection, shared likewise. */
  outages: RedisOutageTracker;
  /** Gives the lease back; the connection closes when its last lease is given back. Safe to call twice. */
  release(): void;
}

interface RegistryEntry {
  connection: RedisConnection;
  outages: RedisOutageTracker;
  leases: number;
}

/** One entry per `connection` option value, for the whole process. */
const entries = new Map<string, RegistryEntry>();

function openEntry(
  connectionOption: string | string[],
  logger: LoggerService | undefined,
): RegistryEntry {
  let target;
  try {
    target = parseRedisConnection(connectionOption);
  } catch (error) {
    // A wrong URL must not stop the backend: the stores behave as if Redis were down for good.
    const outages = createRedisOutageTracker({ description: '(invalid connection)', logger });
    outages.reportFailure(error);
    return {
      outages,
      leases: 0,
      connection: {
        sendCommand: () => Promise.reject(error),
        isReady: () => false,
        firstAttempt: () => undefined,
        close: () => outages.close(),
      },
    };
  }
  const outages = createRedisOutageTracker({ description: target.description, logger });
  const client = createIoredisConnection({
    target,
    listeners: {
      onError: error => outages.reportFailure(error),
      onReady: () => outages.reportSuccess(),
    },
  });
  const connection: RedisConnection = {
    ...client,
    close() {
      outages.close();
      client.close();
    },
  };
  return { connection, outages, leases: 0 };
}

/**
 * Hands out the process-wide connection for a `connection` option value, opening it on first use.
 *
 * @remarks
 * Every plugin's store and the all-plugins store on the same Redis share one client, so a backend opens one
 * connection per Redis (per node in a cluster) rather than one per plugin; the first caller's `logger` reports
 * the shared client's outages. Stores with another `timeoutMs` get a client (and outage state) of their own: an
 * answer that is late for one store is not an outage for the other. The client closes when its last store gives
 * it back. An unusable `connection` is logged once, as an outage that never ends.
 *
 * @internal
 */
export function acquireRedisConnection(options: {
  connection: string | string[];
  timeoutMs: number;
  logger?: LoggerService;
}): RedisConnectionLease {
  const { connection, timeoutMs, logger } = options;
  const key = JSON.stringify([connection, timeoutMs]);
  let entry = entries.get(key);
  if (!entry) {
    entry = openEntry(connection, logger);
    entries.set(key, entry);
  }
  const leased = entry;
  leased.leases += 1;
  let released = false;
  return {
    connection: leased.connection,
    outages: leased.outages,
    release() {
      if (released) {
        return;
      }
      released = true;
      leased.leases -= 1;
      if (leased.leases === 0 && entries.get(key) === leased) {
        entries.delete(key);
        leased.connection.close();
      }
    },
  };
}

/**
 * Closes every Redis client that rate-limit stores opened in this process, whoever holds them.
 *
 * @remarks
 * For tests that must leave no socket open whatever happened. Not for a backend: several backends may share the
 * process, and stores still in use afterwards would count in memory (or fail closed) for good. Stores give their
 * share back on `shutdown()`, which each limiter's lifecycle hook calls.
 *
 * @internal
 */
export async function closeRedisRateLimitClients(): Promise<void> {
  const open = [...entries.values()];
  entries.clear();
  for (const entry of open) {
    entry.connection.close();
  }
}
