import type { LoggerService } from '@backstage/backend-plugin-api';
import type { SendCommandClusterFn } from 'rate-limit-redis';
import type { RateLimitMetrics } from '../../metrics/types';

/**
 * Where the Redis rate-limit store connects, read from its `connection` option.
 *
 * @internal
 */
export interface RedisConnectionTarget {
  /** `standalone` for one URL, `cluster` for a list of node URLs. */
  mode: 'standalone' | 'cluster';
  /** The server, or the cluster's seed nodes. */
  nodes: Array<{ host: string; port: number }>;
  /** The ACL user, when the URL names one. */
  username?: string;
  /** The password, when the URL holds one. */
  password?: string;
  /** The database index (standalone only). */
  db?: number;
  /** Whether the URL scheme is `rediss://`. */
  tls: boolean;
  /** The connection with its password masked, for log messages. */
  description: string;
}

/**
 * One open connection to Redis (a server or a cluster), as the store sees it.
 *
 * @remarks
 * Implemented in a single adapter file over ioredis ({@link createIoredisConnection}) so that no other file
 * depends on the client library.
 *
 * @internal
 */
export interface RedisConnection {
  /** Sends a raw command, routed by key in a cluster; the shape rate-limit-redis expects. */
  sendCommand: SendCommandClusterFn;
  /** Whether commands can be sent now; while `false` they would fail at once. */
  isReady(): boolean;
  /**
   * Settles when the first attempt to connect has succeeded or failed, so that the first requests after start-up
   * need not count in memory only because the socket is still opening. `undefined` once that has happened.
   */
  firstAttempt(): Promise<void> | undefined;
  /** Closes the connection for good; pending commands fail. */
  close(): void;
}

/**
 * Listeners that a {@link RedisConnection} calls as its link to Redis changes.
 *
 * @internal
 */
export interface RedisConnectionListeners {
  /** The connection failed, or Redis answered with an error that is not about a command. */
  onError(error: Error): void;
  /** The connection is up and ready for commands. */
  onReady(): void;
  /** Redis refused to select the database of the URL; the connection was dropped before use. */
  onDatabaseRefused(error: Error): void;
}

/**
 * Options for {@link createRedisRateLimitStore}.
 *
 * @public
 */
export interface RedisRateLimitStoreOptions {
  /**
   * A `redis://` or `rediss://` (TLS) URL, such as `redis://:password@redis.internal:6379/0`, or a list of node
   * URLs of a Redis Cluster. Stores given the same connection share one client in the process.
   */
  connection: string | string[];
  /**
   * Prepended to every key, so that limiters never share counters by accident. Use
   * {@link getRateLimitKeyPrefix}: `rl:global:` for the all-plugins limiter, `rl:plugin:<pluginId>:` for a plugin.
   */
  prefix: string;
  /**
   * The longest a request waits for Redis, in milliseconds, before the store acts as if Redis were down.
   * Defaults to 100.
   */
  timeoutMs?: number;
  /**
   * What happens while Redis cannot count: `true` counts in memory on this instance (fail open), `false`
   * rejects with {@link RateLimitStoreUnavailableError} so that the request gets 503 (fail closed).
   * Defaults to `true`.
   */
  passOnStoreError?: boolean;
  /**
   * The `Retry-After`, in seconds, carried by {@link RateLimitStoreUnavailableError} when the store fails closed.
   * Defaults to 5.
   */
  retryAfterSeconds?: number;
  /** Receives one warning when Redis becomes unreachable and one when it is back. Defaults to no logging. */
  logger?: LoggerService;
  /**
   * Records how long each count (`increment`) waited for Redis, with `error.type` `timeout` or `error` when it
   * ended without an answer (`timeout` also when the request's one shared wait ran out first); usually
   * `createHttpRouterMetrics(...).rateLimit(limiterName)`. A count answered at once, while the circuit breaker
   * is open or because its request has spent its wait already, sends nothing and records nothing. Defaults to
   * none.
   */
  metrics?: RateLimitMetrics;
}
