import type { LoggerService } from '@backstage/backend-plugin-api';
import { HttpRouterConfigError } from '../../errors';
import { redisConnectionAttribute, registerRedisFallbackProbe } from '../../metrics';
import { createIoredisConnection } from './createIoredisConnection';
import { createRedisCircuitBreaker, type RedisCircuitBreaker } from './createRedisCircuitBreaker';
import { createRedisOutageTracker, type RedisOutageTracker } from './createRedisOutageTracker';
import { parseRedisConnection } from './parseRedisConnection';
import type { RedisConnection, RedisConnectionTarget } from './types';
import { withTimeout } from './withTimeout';

/** The config key named when Redis refuses the database of the URL. */
const CONNECTION_CONFIG_KEY = 'backend.rateLimit.store.connection';
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

interface RegistryEntry {
  /** The `connection` option it was opened for, as JSON. */
  option?: string;
  connection: RedisConnection;
  outages: RedisOutageTracker;
  breaker: RedisCircuitBreaker;
  leases: number;
  /** Why Redis refused the database of the URL, until a connection is ready again. */
  refusal?: HttpRouterConfigError;
}

/** One entry per `connection` option value (and timeout), for the whole process. */
const entries = new Map<string, RegistryEntry>();
/** Overrides the outage tracker's settle time for connections opened from now on; for tests. */
let outageSettleMs: number | undefined;

/**
 * Sets how long a Redis connection opened from now on must answer without a failure before its outage is
 * reported over; `undefined` restores the default (5 s).
 *
 * @remarks
 * For tests, which would otherwise wait out the real window; not a setting for a backend.
 *
 * @internal
 */
export function setRedisOutageSettleMs(settleMs: number | undefined): void {
  outageSettleMs = settleMs;
}

function describeRefusal(target: RedisConnectionTarget, error: Error): HttpRouterConfigError {
  return new HttpRouterConfigError(
    CONNECTION_CONFIG_KEY,
    `Redis at ${target.description} refused database ${target.db ?? 0} (${error.message}); name a database ` +
      "that this server has (0 to its 'databases' setting minus one, 0 to 15 by default)",
    { cause: error },
  );
}

function openInvalidEntry(
  connectionOption: string | string[],
  error: unknown,
  logger: LoggerService | undefined,
): RegistryEntry {
  // A wrong URL must not stop the backend: the stores behave as if Redis were down for good.
  const outages = createRedisOutageTracker({ description: '(invalid connection)', logger });
  outages.reportFailure(error);
  const unregisterProbe = registerRedisFallbackProbe(
    redisConnectionAttribute(connectionOption),
    () => true,
  );
  const connection: RedisConnection = {
    sendCommand: () => Promise.reject(error),
    isReady: () => false,
    firstAttempt: () => undefined,
    close() {
      unregisterProbe();
      outages.close();
    },
  };
  const breaker = createRedisCircuitBreaker({ connection, outages, timeoutMs: 1 });
  return { outages, breaker, leases: 0, connection };
}

function openEntry(
  connectionOption: string | string[],
  timeoutMs: number,
  logger: LoggerService | undefined,
): RegistryEntry {
  let target: RedisConnectionTarget;
  try {
    target = parseRedisConnection(connectionOption);
  } catch (error) {
    return openInvalidEntry(connectionOption, error, logger);
  }
  const { description } = target;
  const outages = createRedisOutageTracker({ description, logger, settleMs: outageSettleMs });
  // The listeners below only run once the client reports something, after `entry` exists.
  const client = createIoredisConnection({
    target,
    listeners: {
      onError: error => {
        // While the database is refused the connection is dropped on purpose; that is no outage.
        if (!entry.refusal) {
          outages.reportFailure(error);
        }
      },
      onReady: () => {
        if (entry.refusal) {
          entry.refusal = undefined;
          logger?.warn(`Redis rate-limit store ${description} accepts its database now`);
        }
        breaker.reset();
        outages.reportSuccess();
      },
      onDatabaseRefused: error => {
        if (entry.refusal) {
          return;
        }
        entry.refusal = describeRefusal(target, error);
        logger?.error(
          `Redis rate-limit store ${description}: ${entry.refusal.message}. Until that is fixed, requests are ` +
            'counted in memory on this instance, or refused with 503 where the store fails closed; they are ' +
            'never counted in another database',
        );
      },
    },
  });
  const breaker = createRedisCircuitBreaker({ connection: client, outages, timeoutMs });
  // Read at each collection: 1 while requests on this connection skip Redis (breaker open, or connection down).
  const unregisterProbe = registerRedisFallbackProbe(
    redisConnectionAttribute(connectionOption),
    () => breaker.isOpen(),
  );
  const connection: RedisConnection = {
    ...client,
    close() {
      unregisterProbe();
      outages.close();
      client.close();
    },
  };
  const entry: RegistryEntry = { connection, outages, breaker, leases: 0 };
  return entry;
}

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
 * the start-up with an {@link HttpRouterConfigError} naming `backend.rateLimit.store.connection`, rather than
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
