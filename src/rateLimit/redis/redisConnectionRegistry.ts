import type { LoggerService } from '@backstage/backend-plugin-api';
import type { RedisCircuitBreaker } from './createRedisCircuitBreaker';
import type { RedisOutageTracker } from './createRedisOutageTracker';
import { openEntry, type RegistryEntry } from './openRedisConnectionEntry';
import type { RedisConnection } from './types';
import { withTimeout } from './withTimeout';

/** How long {@link verifyRedisRateLimitConnections} waits for a first connection attempt that has not ended. */
const VERIFY_TIMEOUT_MS = 2_000;

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
  /** Whether requests may wait for that connection now, shared likewise. */
  breaker: RedisCircuitBreaker;
  /** Gives the lease back; the connection closes when its last lease is given back. Safe to call twice. */
  release(): void;
}

/** One entry per `connection` option value (and timeout), for the whole process. */
const entries = new Map<string, RegistryEntry>();

/**
 * Hands out the process-wide connection for a `connection` option value, opening it on first use.
 *
 * @remarks
 * Every plugin's store and the all-plugins store on the same Redis share one client, so a backend opens one
 * connection per Redis (per node in a cluster) rather than one per plugin; the first caller's `logger` reports
 * the shared client's outages. Stores with another `timeoutMs` get a client (and outage state and circuit
 * breaker) of their own: an answer that is late for one store is not an outage for the other. The client closes
 * when its last store gives it back. An unusable `connection` is logged once, as an outage that never ends.
 * Each client reports on the Redis fallback gauge (see `registerRedisFallbackProbe`) until it closes.
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
    entry = openEntry(connection, timeoutMs, logger);
    entry.option = JSON.stringify(connection);
    entries.set(key, entry);
  }
  const leased = entry;
  leased.leases += 1;
  let released = false;
  return {
    connection: leased.connection,
    outages: leased.outages,
    breaker: leased.breaker,
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
 * Resolves once the Redis connections that rate-limit stores have opened in this process for the given
 * `connection` option values (all of them when left out) have ended their first connection attempt, and rejects
 * when Redis refused the database that one of them names.
 *
 * @remarks
 * Awaited by the `httpRouter` service factory, so that `redis://host/99` on a server without database 99 stops
 * the start-up with an `HttpRouterConfigError` naming `backend.rateLimit.store.connection`, rather than
 * counting in another database or in memory for good. Never hangs: a first attempt that has not ended within
 * 2 s (a Redis that does not answer) is left to the stores, which ride it out as an outage, and so is Redis being
 * down.
 *
 * @internal
 */
export async function verifyRedisRateLimitConnections(
  connections?: ReadonlyArray<string | string[]>,
): Promise<void> {
  // A backend checks only the connections its own config names: another backend of the process may name a
  // database that this one never uses.
  const wanted = connections && new Set(connections.map(connection => JSON.stringify(connection)));
  const open = [...entries.values()].filter(
    entry => !wanted || (entry.option !== undefined && wanted.has(entry.option)),
  );
  await Promise.all(
    open.map(entry => {
      const attempt = entry.connection.firstAttempt();
      return attempt
        ? withTimeout(attempt, VERIFY_TIMEOUT_MS, () => new Error('no answer yet')).catch(
            () => undefined,
          )
        : undefined;
    }),
  );
  const refused = open.find(entry => entry.refusal !== undefined);
  if (refused?.refusal) {
    throw refused.refusal;
  }
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
