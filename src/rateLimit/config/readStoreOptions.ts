import type { Config } from '@backstage/config';
import { HttpRouterConfigError } from '../../errors';
import { parseRedisConnection } from '../redis/parseRedisConnection';
import type { RateLimitStoreOptions } from '../types';
import { readRetryAfterSeconds, readStoreTimeoutMs } from './readDurations';
import { expectedError, quoteAll, readObject } from './readConfigValue';
import { findUnknownKeys } from './findConfigWarnings';

/** Known keys of `store`, per store type. The Redis store adds its own keys here. */
const STORE_KEYS: Readonly<Record<RateLimitStoreOptions['type'], readonly string[]>> = {
  memory: ['type'],
  redis: ['type', 'connection', 'timeout', 'retryAfter'],
};

const STORE_TYPES = Object.keys(STORE_KEYS) as Array<RateLimitStoreOptions['type']>;

const REDIS_CONNECTION_EXPECTED =
  "a Redis URL such as 'redis://localhost:6379', or cluster node URLs as a list or separated by commas";

/**
 * Reads the `store` block of a limiter block, or `undefined` when the block has none.
 *
 * @remarks
 * Throws {@link HttpRouterConfigError} for an unknown or missing `type`, for a key that the type does not
 * have (it would be ignored, so it is a mistake rather than a typo worth a warning), and for a Redis store whose
 * `connection` is missing or cannot be parsed. A server that cannot be reached is not checked here: that is an
 * outage, which the store rides out.
 *
 * @param block - The top-level or plugin block.
 * @param fullKey - The full key of `block`.
 * @internal
 */
export function readStoreOptions(
  block: Config,
  fullKey: string,
): RateLimitStoreOptions | undefined {
  const storeKey = `${fullKey}.store`;
  const store = readObject(block, 'store', fullKey);
  if (!store) {
    return undefined;
  }
  const type = readStoreType(store, storeKey);
  const unknownKeys = findUnknownKeys(store, storeKey, STORE_KEYS[type]);
  if (unknownKeys.length > 0) {
    throw new HttpRouterConfigError(storeKey, unknownKeys.join('; '));
  }
  if (type === 'memory') {
    return { type };
  }
  const connection = readRedisConnection(store, storeKey);
  try {
    parseRedisConnection(connection);
  } catch (error) {
    throw new HttpRouterConfigError(`${storeKey}.connection`, (error as Error).message, {
      cause: error,
    });
  }
  return {
    type,
    connection,
    timeoutMs: readStoreTimeoutMs(store, storeKey),
    retryAfterSeconds: readRetryAfterSeconds(store, storeKey),
  };
}

function readStoreType(store: Config, storeKey: string): RateLimitStoreOptions['type'] {
  const what = `one of ${quoteAll(STORE_TYPES)}`;
  let type: string | undefined;
  try {
    type = store.getOptionalString('type');
  } catch (error) {
    throw expectedError(store, 'type', storeKey, what, error);
  }
  if (type === undefined || !isStoreType(type)) {
    throw expectedError(store, 'type', storeKey, what);
  }
  return type;
}

function isStoreType(type: string): type is RateLimitStoreOptions['type'] {
  return (STORE_TYPES as string[]).includes(type);
}

/** Reads `connection` as one URL or a list of cluster node URLs; whether each URL is usable is checked later. */
function readRedisConnection(store: Config, storeKey: string): string | string[] {
  const raw = store.getOptional('connection');
  if (Array.isArray(raw)) {
    let nodes: string[];
    try {
      nodes = store.getStringArray('connection');
    } catch (error) {
      throw expectedError(store, 'connection', storeKey, REDIS_CONNECTION_EXPECTED, error);
    }
    if (nodes.length === 0 || nodes.some(node => node.trim() === '')) {
      throw expectedError(store, 'connection', storeKey, REDIS_CONNECTION_EXPECTED);
    }
    return nodes;
  }
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw expectedError(store, 'connection', storeKey, REDIS_CONNECTION_EXPECTED);
  }
  // Upstream's config schema declares `connection` as a string, so cluster nodes can also be listed in one
  // comma-separated string, which passes both schemas.
  if (raw.includes(',')) {
    const nodes = raw.split(',').map(node => node.trim());
    if (nodes.some(node => node === '')) {
      throw expectedError(store, 'connection', storeKey, REDIS_CONNECTION_EXPECTED);
    }
    return nodes;
  }
  return raw;
}
