import type { LoggerService } from '@backstage/backend-plugin-api';
import { HttpRouterConfigError } from '../../errors';
import { redisConnectionAttribute, registerRedisFallbackProbe } from '../../metrics';
import { createIoredisConnection } from './createIoredisConnection';
import { createRedisCircuitBreaker, type RedisCircuitBreaker } from './createRedisCircuitBreaker';
import { createRedisOutageTracker, type RedisOutageTracker } from './createRedisOutageTracker';
import { parseRedisConnection } from './parseRedisConnection';
import type { RedisConnection, RedisConnectionTarget } from './types';

/** The config key named when Redis refuses the database of the URL. */
const CONNECTION_CONFIG_KEY = 'backend.rateLimit.store.connection';

/**
 * One process-wide Redis connection, with its outage state and circuit breaker, as the registry holds it.
 *
 * @internal
 */
export interface RegistryEntry {
  /** The `connection` option it was opened for, as JSON. */
  option?: string;
  connection: RedisConnection;
  outages: RedisOutageTracker;
  breaker: RedisCircuitBreaker;
  leases: number;
  /** Why Redis refused the database of the URL, until a connection is ready again. */
  refusal?: HttpRouterConfigError;
}

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

/**
 * Opens the connection for a `connection` option value, with its outage tracker, circuit breaker and fallback
 * gauge probe; an option that cannot be read gives a connection that behaves as Redis down for good.
 *
 * @internal
 */
export function openEntry(
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
