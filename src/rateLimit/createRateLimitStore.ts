import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import { MemoryStore, type Store } from 'express-rate-limit';
import { HttpRouterConfigError } from '../errors';
import type { RateLimitMetrics } from '../metrics/types';
import { createRedisRateLimitStore } from './createRedisRateLimitStore';
import { RATE_LIMIT_CONFIG_KEY } from './readRateLimitOptions';
import type { RateLimitStoreOptions } from './types';

/**
 * Options for {@link createRateLimitStore}.
 *
 * @public
 */
export interface RateLimitStoreFactoryOptions {
  /** Which store to create and how to reach it. No default: required. */
  store: RateLimitStoreOptions;
  /**
   * Prepended to every key the store writes, so that limiters sharing a Redis server stay apart; see
   * {@link getRateLimitKeyPrefix}. No default: required.
   */
  prefix: string;
  /**
   * What the Redis store does while Redis cannot count: `true` counts in memory on this instance, `false` fails
   * the request with 503. Defaults to `true`.
   */
  passOnStoreError?: boolean;
  /** Where the Redis store reports outages. Defaults to none. */
  logger?: LoggerService;
  /**
   * Where the Redis store records how long each count waited for Redis; see
   * {@link RedisRateLimitStoreOptions.metrics}. The memory store records nothing. Defaults to none.
   */
  metrics?: RateLimitMetrics;
}

/**
 * Creates the hit-count store for one limiter.
 *
 * @remarks
 * Each limiter needs a store of its own, as express-rate-limit requires. `memory` gives
 * express-rate-limit's `MemoryStore`, whose clean-up timer is unref'd and stopped by `shutdown()`.
 * `redis` gives {@link createRedisRateLimitStore}, which shares one connection per URL in the process and gives
 * its share back on `shutdown()`. Any other type throws {@link HttpRouterConfigError}; it never falls back to
 * memory.
 *
 * @public
 */
export function createRateLimitStore(options: RateLimitStoreFactoryOptions): Store {
  const { store, prefix, passOnStoreError = true, logger, metrics } = options;
  switch (store.type) {
    case 'memory':
      return new MemoryStore();
    case 'redis':
      return createRedisRateLimitStore({
        connection: store.connection,
        timeoutMs: store.timeoutMs,
        retryAfterSeconds: store.retryAfterSeconds,
        prefix,
        passOnStoreError,
        logger,
        metrics,
      });
    default:
      throw new HttpRouterConfigError(
        `${RATE_LIMIT_CONFIG_KEY}.store.type`,
        `expected 'memory' or 'redis', got ${JSON.stringify((store as { type: unknown }).type)}`,
      );
  }
}

/**
 * Creates one limiter's store with {@link createRateLimitStore} and stops it when `lifecycle` shuts down.
 *
 * @internal
 */
export function createLimiterStore(
  options: RateLimitStoreFactoryOptions & { lifecycle?: LifecycleService },
): Store {
  const { lifecycle, ...storeOptions } = options;
  const store = createRateLimitStore(storeOptions);
  lifecycle?.addShutdownHook(async () => {
    await store.shutdown?.();
  });
  return store;
}
