import type { Config } from '@backstage/config';
import { HttpRouterConfigError, describeValue } from '../errors';
import { readDurationMs } from '../readDurationMs';
import { parseRedisConnection } from './redis/parseRedisConnection';
import { parseIpAllowListEntry } from './createIpAllowList';
import { findClosestKey } from './findClosestKey';
import type { RateLimitOptions, RateLimitSettings, RateLimitStoreOptions } from './types';

/**
 * Where the rate limit settings live in app-config.
 *
 * @internal
 */
export const RATE_LIMIT_CONFIG_KEY = 'backend.rateLimit';

/**
 * Where the express `trust proxy` setting lives in app-config.
 *
 * @internal
 */
export const TRUST_PROXY_CONFIG_KEY = 'backend.trustProxy';

/**
 * The default `window`: one minute, in milliseconds.
 *
 * @remarks
 * Long enough to smooth over the burst of a page load, short enough that a limited client waits little.
 *
 * @public
 */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * The default `incomingRequestLimit`: requests per client per window.
 *
 * @remarks
 * A Backstage page load makes a few dozen API calls (entity, relations, permissions, each tab's own plugin); a
 * busy user with several tabs, or a handful of users behind one NAT, stays well under a thousand a minute, while
 * a script flooding the backend passes it within seconds.
 *
 * @public
 */
export const DEFAULT_RATE_LIMIT = 1000;

/**
 * The default `ipAllowList`: loopback, as upstream, for the backend calling itself and local development.
 *
 * @public
 */
export const DEFAULT_IP_ALLOW_LIST: readonly string[] = Object.freeze(['127.0.0.1', '::1']);

/**
 * The settings used by `backend.rateLimit: true` and for every key left out.
 *
 * @public
 */
export const DEFAULT_RATE_LIMIT_OPTIONS: Readonly<RateLimitOptions> = Object.freeze({
  windowMs: DEFAULT_RATE_LIMIT_WINDOW_MS,
  limit: DEFAULT_RATE_LIMIT,
  ipAllowList: DEFAULT_IP_ALLOW_LIST,
  skipSuccessfulRequests: false,
  skipFailedRequests: false,
  passOnStoreError: true,
  store: Object.freeze({ type: 'memory' as const }),
});

/** The memory store counts windows with `setInterval`, which cannot wait longer than this. */
const MAX_MEMORY_WINDOW_MS = 2 ** 31 - 1;

/** The spelling in upstream's documentation, accepted with a deprecation warning. */
const MISSPELLED_SKIP_SUCCESSFUL_KEY = 'skipSuccesfulRequests';

/** Keys of the top-level block that a `plugin.<pluginId>` block may also set. */
const LIMITER_KEYS = [
  'window',
  'incomingRequestLimit',
  'ipAllowList',
  'skipSuccessfulRequests',
  'skipFailedRequests',
  'passOnStoreError',
  'store',
] as const;

const TOP_LEVEL_KEYS = [...LIMITER_KEYS, 'global', 'plugin'];

/** Known keys of `store`, per store type. The Redis store adds its own keys here. */
const STORE_KEYS: Readonly<Record<RateLimitStoreOptions['type'], readonly string[]>> = {
  memory: ['type'],
  redis: ['type', 'connection', 'timeout', 'retryAfter'],
};

const STORE_TYPES = Object.keys(STORE_KEYS) as Array<RateLimitStoreOptions['type']>;

/**
 * Reads `backend.rateLimit` (and `backend.trustProxy`, for a warning) into plain options, one set per limiter.
 *
 * @remarks
 * Pure: it never logs; problems that should not stop the backend come back in `warnings`.
 *
 * - Absent or `false`: rate limiting is off; no limiter at all.
 * - `true`: the all-plugins limiter with {@link DEFAULT_RATE_LIMIT_OPTIONS}.
 * - An object: the all-plugins limiter with the top-level keys (unless `global: false`), and one limiter per
 *   `plugin.<pluginId>` block, which takes every key it leaves out from the top-level block.
 *
 * Throws {@link HttpRouterConfigError} naming the full key, the value and what is accepted for a value of the
 * wrong type, an unreadable duration, a limit that is not a positive whole number, an entry of `ipAllowList`
 * that is not an address or CIDR range, an unknown `store.type`, a Redis store without `connection`, and
 * for both spellings of `skipSuccessfulRequests` in one block. Unknown keys are warnings naming the closest
 * known key.
 *
 * @param config - The root config.
 * @public
 */
export function readRateLimitOptions(config: Config): RateLimitSettings {
  const warnings: string[] = [];
  const enabled = readEnabled(config);
  if (enabled === false) {
    return { global: undefined, plugins: {}, warnings };
  }
  if (enabled === true) {
    warnings.push(...readTrustProxyWarnings(config));
    return { global: DEFAULT_RATE_LIMIT_OPTIONS, plugins: {}, warnings };
  }

  const block = config.getConfig(RATE_LIMIT_CONFIG_KEY);
  warnings.push(...findUnknownKeys(block, RATE_LIMIT_CONFIG_KEY, TOP_LEVEL_KEYS));
  const topLevel = readLimiterBlock(
    block,
    RATE_LIMIT_CONFIG_KEY,
    DEFAULT_RATE_LIMIT_OPTIONS,
    warnings,
  );
  const globalEnabled = readBoolean(block, 'global', RATE_LIMIT_CONFIG_KEY) ?? true;

  const plugins: Record<string, RateLimitOptions> = {};
  const pluginsKey = `${RATE_LIMIT_CONFIG_KEY}.plugin`;
  const pluginBlocks = readObject(block, 'plugin', RATE_LIMIT_CONFIG_KEY);
  for (const pluginId of pluginBlocks?.keys() ?? []) {
    const fullKey = `${pluginsKey}.${pluginId}`;
    const pluginBlock = readObject(pluginBlocks!, pluginId, pluginsKey);
    if (!pluginBlock) {
      throw new HttpRouterConfigError(
        fullKey,
        'expected an object of rate limit settings, got null',
      );
    }
    warnings.push(...findUnknownKeys(pluginBlock, fullKey, LIMITER_KEYS));
    plugins[pluginId] = readLimiterBlock(pluginBlock, fullKey, topLevel, warnings);
  }

  const global = globalEnabled ? topLevel : undefined;
  if (global || Object.keys(plugins).length > 0) {
    warnings.push(...readTrustProxyWarnings(config));
  }
  return { global, plugins, warnings };
}

/** `true` or `false` for the boolean forms, `undefined` for an object. */
function readEnabled(config: Config): boolean | undefined {
  const raw = config.getOptional(RATE_LIMIT_CONFIG_KEY);
  if (raw === undefined) {
    return false;
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    return undefined;
  }
  // Boolean strings come from environment substitution, as in `rateLimit: ${RATE_LIMIT}`.
  const asBoolean =
    typeof raw === 'boolean' || typeof raw === 'string' ? parseBoolean(raw) : undefined;
  if (asBoolean === undefined) {
    throw new HttpRouterConfigError(
      RATE_LIMIT_CONFIG_KEY,
      `expected true (rate limiting with defaults) or an object of rate limit settings, got ${describeValue(raw)}`,
    );
  }
  return asBoolean;
}

function parseBoolean(value: boolean | string): boolean | undefined {
  if (typeof value === 'boolean') {
    return value;
  }
  if (value === 'true') {
    return true;
  }
  return value === 'false' ? false : undefined;
}

/** Reads the keys shared by the top-level and plugin blocks, taking what is left out from `parent`. */
function readLimiterBlock(
  block: Config,
  fullKey: string,
  parent: Readonly<RateLimitOptions>,
  warnings: string[],
): RateLimitOptions {
  const store = readStore(block, fullKey) ?? parent.store;
  const windowMs = readDurationMs(block, 'window', {
    fullKey: `${fullKey}.window`,
    fallbackMs: parent.windowMs,
  });
  if (store.type === 'memory' && windowMs > MAX_MEMORY_WINDOW_MS) {
    throw new HttpRouterConfigError(
      `${fullKey}.window`,
      `expected at most ${MAX_MEMORY_WINDOW_MS} ms (about 24 days) with the memory store, got ${windowMs} ms`,
    );
  }
  return {
    windowMs,
    limit: readLimit(block, fullKey) ?? parent.limit,
    ipAllowList: readIpAllowList(block, fullKey) ?? parent.ipAllowList,
    skipSuccessfulRequests:
      readSkipSuccessfulRequests(block, fullKey, warnings) ?? parent.skipSuccessfulRequests,
    skipFailedRequests:
      readBoolean(block, 'skipFailedRequests', fullKey) ?? parent.skipFailedRequests,
    passOnStoreError: readBoolean(block, 'passOnStoreError', fullKey) ?? parent.passOnStoreError,
    store,
  };
}

function readLimit(block: Config, fullKey: string): number | undefined {
  const key = 'incomingRequestLimit';
  let limit: number | undefined;
  try {
    limit = block.getOptionalNumber(key);
  } catch (error) {
    throw expected(block, key, fullKey, 'a positive whole number of requests', error);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw expected(block, key, fullKey, 'a positive whole number of requests');
  }
  return limit;
}

function readIpAllowList(block: Config, fullKey: string): readonly string[] | undefined {
  const key = 'ipAllowList';
  let entries: string[] | undefined;
  try {
    entries = block.getOptionalStringArray(key);
  } catch (error) {
    throw expected(block, key, fullKey, 'a list of IP addresses and CIDR ranges', error);
  }
  entries?.forEach((entry, index) => {
    if (!parseIpAllowListEntry(entry)) {
      throw new HttpRouterConfigError(
        `${fullKey}.${key}[${index}]`,
        `expected an IP address such as '10.0.0.1' or '::1', or a CIDR range such as '10.0.0.0/8' or '2001:db8::/32', got ${describeValue(entry)}`,
      );
    }
  });
  return entries && Object.freeze([...entries]);
}

function readSkipSuccessfulRequests(
  block: Config,
  fullKey: string,
  warnings: string[],
): boolean | undefined {
  if (!block.has(MISSPELLED_SKIP_SUCCESSFUL_KEY)) {
    return readBoolean(block, 'skipSuccessfulRequests', fullKey);
  }
  if (block.has('skipSuccessfulRequests')) {
    throw new HttpRouterConfigError(
      `${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}`,
      `set either skipSuccessfulRequests or its deprecated misspelling ${MISSPELLED_SKIP_SUCCESSFUL_KEY} (but not both); keep skipSuccessfulRequests`,
    );
  }
  warnings.push(
    `Config key '${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}' is a deprecated misspelling; rename it to '${fullKey}.skipSuccessfulRequests'`,
  );
  return readBoolean(block, MISSPELLED_SKIP_SUCCESSFUL_KEY, fullKey);
}

function readStore(block: Config, fullKey: string): RateLimitStoreOptions | undefined {
  const storeKey = `${fullKey}.store`;
  const store = readObject(block, 'store', fullKey);
  if (!store) {
    return undefined;
  }
  let type: string | undefined;
  try {
    type = store.getOptionalString('type');
  } catch (error) {
    throw expected(store, 'type', storeKey, `one of ${quoteAll(STORE_TYPES)}`, error);
  }
  if (type === undefined || !isStoreType(type)) {
    throw expected(store, 'type', storeKey, `one of ${quoteAll(STORE_TYPES)}`);
  }
  const unknownKeys = findUnknownKeys(store, storeKey, STORE_KEYS[type]);
  if (unknownKeys.length > 0) {
    // A key of another store type is a mistake, not a typo worth only a warning: it would be ignored.
    throw new HttpRouterConfigError(storeKey, unknownKeys.join('; '));
  }
  if (type === 'memory') {
    return { type };
  }
  const connection = readRedisConnection(store, storeKey);
  try {
    parseRedisConnection(connection);
  } catch (error) {
    // A URL that cannot be read is a config mistake and stops the backend; a server that cannot be reached is
    // an outage, which the store rides out.
    throw new HttpRouterConfigError(`${storeKey}.connection`, (error as Error).message, {
      cause: error,
    });
  }
  return {
    type,
    connection,
    timeoutMs: store.has('timeout')
      ? readDurationMs(store, 'timeout', { fullKey: `${storeKey}.timeout`, fallbackMs: 0 })
      : undefined,
    retryAfterSeconds: readRetryAfterSeconds(store, storeKey),
  };
}

function readRetryAfterSeconds(store: Config, storeKey: string): number | undefined {
  if (!store.has('retryAfter')) {
    return undefined;
  }
  const fullKey = `${storeKey}.retryAfter`;
  const ms = readDurationMs(store, 'retryAfter', { fullKey, fallbackMs: 0 });
  if (ms % 1000 !== 0) {
    throw new HttpRouterConfigError(
      fullKey,
      `expected a whole number of seconds such as '5s', got ${describeValue(store.getOptional('retryAfter'))}`,
    );
  }
  return ms / 1000;
}

function readRedisConnection(store: Config, storeKey: string): string | string[] {
  const what =
    "a Redis URL such as 'redis://localhost:6379', or cluster node URLs as a list or separated by commas";
  const raw = store.getOptional('connection');
  if (Array.isArray(raw)) {
    let nodes: string[];
    try {
      nodes = store.getStringArray('connection');
    } catch (error) {
      throw expected(store, 'connection', storeKey, what, error);
    }
    if (nodes.length === 0 || nodes.some(node => node.trim() === '')) {
      throw expected(store, 'connection', storeKey, what);
    }
    return nodes;
  }
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw expected(store, 'connection', storeKey, what);
  }
  // Upstream's config schema declares `connection` as a string, so cluster nodes can also be listed in one
  // comma-separated string, which passes both schemas.
  if (raw.includes(',')) {
    const nodes = raw.split(',').map(node => node.trim());
    if (nodes.some(node => node === '')) {
      throw expected(store, 'connection', storeKey, what);
    }
    return nodes;
  }
  return raw;
}

function isStoreType(type: string): type is RateLimitStoreOptions['type'] {
  return (STORE_TYPES as string[]).includes(type);
}

function readBoolean(block: Config, key: string, fullKey: string): boolean | undefined {
  try {
    return block.getOptionalBoolean(key);
  } catch (error) {
    throw expected(block, key, fullKey, 'true or false', error);
  }
}

function readObject(block: Config, key: string, fullKey: string): Config | undefined {
  try {
    return block.getOptionalConfig(key);
  } catch (error) {
    throw expected(block, key, fullKey, 'an object', error);
  }
}

function expected(
  block: Config,
  key: string,
  fullKey: string,
  what: string,
  cause?: unknown,
): HttpRouterConfigError {
  return new HttpRouterConfigError(
    `${fullKey}.${key}`,
    `expected ${what}, got ${describeValue(block.getOptional(key))}`,
    cause === undefined ? undefined : { cause },
  );
}

function findUnknownKeys(block: Config, fullKey: string, known: readonly string[]): string[] {
  return block
    .keys()
    .filter(key => !known.includes(key) && key !== MISSPELLED_SKIP_SUCCESSFUL_KEY)
    .map(key => {
      const closest = findClosestKey(key, known);
      const hint = closest ? `; did you mean '${fullKey}.${closest}'?` : '';
      return `Unknown config key '${fullKey}.${key}' is ignored${hint}`;
    });
}

function readTrustProxyWarnings(config: Config): string[] {
  if (config.getOptional(TRUST_PROXY_CONFIG_KEY) !== true) {
    return [];
  }
  return [
    `'${TRUST_PROXY_CONFIG_KEY}' is true while rate limiting is on: express then takes the client address from ` +
      'the left-most X-Forwarded-For entry, which the client writes itself, so any client can escape its limit ' +
      "or spend another client's. Set it to the number of proxies in front of the backend (for example 1) or " +
      'to their addresses or CIDR ranges (for example ["10.0.0.0/8"]).',
  ];
}

function quoteAll(values: readonly string[]): string {
  return values.map(value => `'${value}'`).join(', ');
}
