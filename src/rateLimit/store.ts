import type { LifecycleService } from '@backstage/backend-plugin-api';
import { MemoryStore, type Store } from 'express-rate-limit';
import { describeValue, HttpRouterConfigError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import type { RedisConnections } from '../redis/connection';
import { createRedisStore } from '../redis/store';
import { RATE_LIMIT_CONFIG_KEY } from './config';
import type { RateLimitBucket, RateLimitOptions } from './types';

/** The default `store.timeout`. */
export const DEFAULT_REDIS_TIMEOUT_MS = 100;
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The store key prefix of a limiter, `rl:global:` or `rl:plugin:<pluginId>:` (then `route:<route>:` for a route
 * rule), followed by `<bucket>:` for a per-principal budget, so that no two budgets share a counter.
 */
export function rateLimitKeyPrefix(
  pluginId?: string,
  bucket?: RateLimitBucket,
  route?: string,
): string {
  const plugin = `rl:plugin:${pluginId}:${route === undefined ? '' : `route:${route}:`}`;
  const prefix = pluginId === undefined ? 'rl:global:' : plugin;
  return bucket === undefined ? prefix : `${prefix}${bucket}:`;
}

/** Options for {@link createRateLimitStore}. */
export interface RateLimitStoreFactoryOptions {
  /** The limiter's settings: its `store` and `passOnStoreError`. */
  options: RateLimitOptions;
  /** From {@link rateLimitKeyPrefix}. */
  prefix: string;
  /** The backend's Redis connections, for a Redis store. */
  connections: RedisConnections;
  /** Stops the store at shutdown: the memory store's timer, or its share of a Redis connection. */
  lifecycle?: LifecycleService;
  /** Records each Redis wait. Defaults to none. */
  metrics?: RateLimitMetrics;
  /** The stores built so far, by prefix: a limiter rebuilt for new settings keeps its counts. Defaults to none. */
  stores?: Map<string, Store>;
}

/**
 * Creates the store of one limiter (express-rate-limit wants one per limiter): its `MemoryStore`, whose timer is
 * unref'd, or the Redis store; `lifecycle`'s shutdown hook stops it. An unknown type throws, never memory.
 */
export function createRateLimitStore(factoryOptions: RateLimitStoreFactoryOptions): Store {
  const { options, prefix, connections, lifecycle, metrics, stores } = factoryOptions;
  const { store: storeOptions } = options;
  let store = stores?.get(prefix);
  if (store) return store;
  if (storeOptions.type === 'memory') {
    store = new MemoryStore();
  } else if (storeOptions.type === 'redis') {
    store = createRedisStore({
      connections,
      connection: storeOptions.connection,
      timeoutMs: storeOptions.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
      retryAfterSeconds: storeOptions.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
      passOnStoreError: options.passOnStoreError,
      prefix,
      metrics,
    });
  } else {
    throw new HttpRouterConfigError(
      `${RATE_LIMIT_CONFIG_KEY}.store.type`,
      `expected 'memory' or 'redis', got ${describeValue((storeOptions as { type: unknown }).type)}`,
    );
  }
  stores?.set(prefix, store);
  const built = store;
  lifecycle?.addShutdownHook(async () => {
    await built.shutdown?.();
  });
  return store;
}
