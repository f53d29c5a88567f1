import type { LifecycleService } from '@backstage/backend-plugin-api';
import { MemoryStore, type Store } from 'express-rate-limit';
import { describeValue, HttpRouterConfigError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import type { RedisConnections } from '../redis/connection';
import { createRedisStore } from '../redis/store';
import { RATE_LIMIT_CONFIG_KEY } from './config';
import type { RateLimitBucket, RateLimitOptions } from './types';

export const DEFAULT_REDIS_TIMEOUT_MS = 100;
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** `rl:global:` or `rl:plugin:<pluginId>:[route:<route>:]`, then `<bucket>:` for a per-principal budget. */
export function rateLimitKeyPrefix(pluginId?: string, bucket?: RateLimitBucket, route?: string) {
  const rule = route === undefined ? '' : `route:${route}:`;
  const layer = pluginId === undefined ? 'rl:global:' : `rl:plugin:${pluginId}:${rule}`;
  return bucket === undefined ? layer : `${layer}${bucket}:`;
}

/** Options for {@link createRateLimitStore}; `lifecycle` (stops the store) and `metrics` default to none. */
export interface RateLimitStoreFactoryOptions {
  /** Its `store` and `passOnStoreError` are read. */
  options: RateLimitOptions;
  prefix: string;
  connections: RedisConnections;
  lifecycle?: LifecycleService;
  metrics?: RateLimitMetrics;
  /** The stores built so far, by prefix, so that a rebuilt limiter keeps its counts. Defaults to none. */
  stores?: Map<string, Store>;
}

/** The store of one limiter: a `MemoryStore` (timer unref'd) or a Redis one; an unknown type throws. */
export function createRateLimitStore(factoryOptions: RateLimitStoreFactoryOptions): Store {
  const { options, prefix, connections, lifecycle, metrics, stores } = factoryOptions;
  const { store: storeOptions, passOnStoreError } = options;
  const known = stores?.get(prefix);
  if (known) return known;
  let store: Store;
  if (storeOptions.type === 'memory') {
    store = new MemoryStore();
  } else if (storeOptions.type === 'redis') {
    const { connection, timeoutMs = DEFAULT_REDIS_TIMEOUT_MS } = storeOptions;
    const retryAfterSeconds = storeOptions.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    const redis = { connection, timeoutMs, retryAfterSeconds, passOnStoreError, prefix, metrics };
    store = createRedisStore({ connections, ...redis });
  } else {
    const got = describeValue((storeOptions as { type: unknown }).type);
    const at = `${RATE_LIMIT_CONFIG_KEY}.store.type`;
    throw new HttpRouterConfigError(at, `expected 'memory' or 'redis', got ${got}`);
  }
  stores?.set(prefix, store);
  lifecycle?.addShutdownHook(() => store.shutdown?.());
  return store;
}
