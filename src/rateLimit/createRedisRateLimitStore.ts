import type { Store } from 'express-rate-limit';
import { RedisStoreOptionError } from '../errors';
import { MAX_TIMER_DELAY_MS } from '../readDurationMs';
import { RedisRateLimitStore } from './redis/RedisRateLimitStore';
import { acquireRedisConnection } from './redis/redisConnectionRegistry';
import type { RedisRateLimitStoreOptions } from './redis/types';

/** How long a request may wait for Redis by default, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 100;
/** The `Retry-After` of a request refused while Redis is down, by default, in seconds. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * Creates an express-rate-limit store that keeps counters in Redis, so that every instance of a backend shares
 * one budget per client.
 *
 * @remarks
 * Built on rate-limit-redis, through its public API, over one ioredis client per `connection` (and timeout) per
 * process, shared by every store and closed when the last of them shuts down. Counters are kept under `prefix`
 * and expire with their window.
 *
 * Each store operation waits for Redis `timeoutMs` at most: a request that crosses several limiters and budgets
 * waits for each count in turn, so a Redis that answers every command within `timeoutMs` never sends a request
 * to the fallback. Once one wait has timed out or failed the others stop waiting: a circuit breaker per
 * connection sends requests straight to the fallback until a probe finds Redis answering again. The fallback is express-rate-limit's `MemoryStore`, with the same window, on this instance, or, with
 * `passOnStoreError: false`, a rejection with {@link RateLimitStoreUnavailableError} (a 503). In fail-open mode
 * no operation rejects because of Redis. A hit that reaches a hung Redis after its request was answered without
 * it is taken back. One warning is logged when an outage starts and one when it ends. Counting moves back to
 * Redis as soon as it answers, including after a restart that emptied its script cache or a `FLUSHALL`.
 * Never throws or rejects because Redis is down at start-up. With `metrics`, each count that waits for Redis
 * records its wait (not those answered at once while the breaker is open).
 *
 * Call `shutdown()` on the store when its limiter is discarded; it gives back its share of the client.
 *
 * @param options - See {@link RedisRateLimitStoreOptions}.
 * @public
 */
export function createRedisRateLimitStore(options: RedisRateLimitStoreOptions): Store {
  const {
    connection,
    prefix,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    passOnStoreError = true,
    retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS,
    logger,
    metrics,
  } = options;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new RedisStoreOptionError(
      'prefix',
      `expected a non-empty string such as 'rl:plugin:catalog:', got ${JSON.stringify(prefix)}`,
    );
  }
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isFinite(timeoutMs) ||
    timeoutMs <= 0 ||
    timeoutMs > MAX_TIMER_DELAY_MS
  ) {
    throw new RedisStoreOptionError(
      'timeoutMs',
      `expected a positive number of milliseconds up to ${MAX_TIMER_DELAY_MS}, got ${JSON.stringify(timeoutMs)}`,
    );
  }
  if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds <= 0) {
    throw new RedisStoreOptionError(
      'retryAfterSeconds',
      `expected a positive whole number of seconds, got ${JSON.stringify(retryAfterSeconds)}`,
    );
  }
  const lease = acquireRedisConnection({ connection, timeoutMs, logger });
  return new RedisRateLimitStore({
    lease,
    prefix,
    passOnStoreError,
    retryAfterSeconds,
    metrics,
  });
}
