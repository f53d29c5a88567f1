import type { Config } from '@backstage/config';
import { HttpRouterConfigError } from '../../errors';
import type { RateLimitOptions } from '../types';
import { DEFAULT_RATE_LIMIT_OPTIONS, RATE_LIMIT_CONFIG_KEY } from './defaults';
import { findUnknownKeys } from './findConfigWarnings';
import { readBoolean, readObject } from './readConfigValue';
import { readWindowMs } from './readDurations';
import {
  MISSPELLED_SKIP_SUCCESSFUL_KEY,
  readIpAllowList,
  readLimit,
  readSkipSuccessfulRequests,
} from './readLimiterKeys';
import { PRINCIPAL_LIMIT_KEYS, readPrincipalLimits } from './readPrincipalLimits';
import { readStoreOptions } from './readStoreOptions';

/** Keys of the top-level block that a `plugin.<pluginId>` block may also set. */
const LIMITER_KEYS = [
  'window',
  'incomingRequestLimit',
  'ipAllowList',
  'skipSuccessfulRequests',
  'skipFailedRequests',
  'passOnStoreError',
  'store',
  'webSocketConnectionLimit',
  ...(Object.keys(PRINCIPAL_LIMIT_KEYS) as Array<keyof typeof PRINCIPAL_LIMIT_KEYS>),
];

const TOP_LEVEL_KEYS = [...LIMITER_KEYS, 'global', 'plugin'];

/** What the top-level block of `backend.rateLimit` and its plugin blocks read as. */
export interface LimiterBlocks {
  /** The all-plugins limiter, or `undefined` with `global: false`. */
  global: RateLimitOptions | undefined;
  /** One limiter per `plugin.<pluginId>` block. */
  plugins: Record<string, RateLimitOptions>;
  /** Unknown keys and deprecated spellings, top-level block first. */
  warnings: string[];
}

/**
 * Reads the object form of `backend.rateLimit`: the top-level block over the defaults, and each
 * `plugin.<pluginId>` block over the top-level block.
 *
 * @param block - `backend.rateLimit`.
 * @internal
 */
export function readLimiterBlocks(block: Config): LimiterBlocks {
  const warnings = findUnknownKeys(block, RATE_LIMIT_CONFIG_KEY, TOP_LEVEL_KEYS, [
    MISSPELLED_SKIP_SUCCESSFUL_KEY,
  ]);
  const topLevel = readLimiterBlock(block, RATE_LIMIT_CONFIG_KEY, DEFAULT_RATE_LIMIT_OPTIONS);
  warnings.push(...topLevel.warnings);
  const globalEnabled = readBoolean(block, 'global', RATE_LIMIT_CONFIG_KEY) ?? true;
  const pluginBlocks = readObject(block, 'plugin', RATE_LIMIT_CONFIG_KEY);
  const plugins = pluginBlocks
    ? readPluginBlocks(pluginBlocks, topLevel.options)
    : { plugins: {}, warnings: [] };
  return {
    global: globalEnabled ? topLevel.options : undefined,
    plugins: plugins.plugins,
    warnings: [...warnings, ...plugins.warnings],
  };
}

/** Reads each `plugin.<pluginId>` block over the top-level options. */
function readPluginBlocks(
  pluginBlocks: Config,
  topLevel: Readonly<RateLimitOptions>,
): Pick<LimiterBlocks, 'plugins' | 'warnings'> {
  const pluginsKey = `${RATE_LIMIT_CONFIG_KEY}.plugin`;
  const plugins: Record<string, RateLimitOptions> = {};
  const warnings: string[] = [];
  for (const pluginId of pluginBlocks.keys()) {
    const fullKey = `${pluginsKey}.${pluginId}`;
    const pluginBlock = readObject(pluginBlocks, pluginId, pluginsKey);
    if (!pluginBlock) {
      throw new HttpRouterConfigError(
        fullKey,
        'expected an object of rate limit settings, got null',
      );
    }
    warnings.push(
      ...findUnknownKeys(pluginBlock, fullKey, LIMITER_KEYS, [MISSPELLED_SKIP_SUCCESSFUL_KEY]),
    );
    const plugin = readLimiterBlock(pluginBlock, fullKey, topLevel);
    warnings.push(...plugin.warnings);
    plugins[pluginId] = plugin.options;
  }
  return { plugins, warnings };
}

/** Reads the keys shared by the top-level and plugin blocks, taking what is left out from `parent`. */
function readLimiterBlock(
  block: Config,
  fullKey: string,
  parent: Readonly<RateLimitOptions>,
): { options: RateLimitOptions; warnings: string[] } {
  // The store comes first: the longest window accepted depends on it.
  const store = readStoreOptions(block, fullKey) ?? parent.store;
  const windowMs = readWindowMs(block, fullKey, store, parent.windowMs);
  const limit = readLimit(block, fullKey) ?? parent.limit;
  const ipAllowList = readIpAllowList(block, fullKey) ?? parent.ipAllowList;
  const skipSuccessful = readSkipSuccessfulRequests(block, fullKey);
  const options: RateLimitOptions = {
    windowMs,
    limit,
    ipAllowList,
    skipSuccessfulRequests: skipSuccessful.value ?? parent.skipSuccessfulRequests,
    skipFailedRequests:
      readBoolean(block, 'skipFailedRequests', fullKey) ?? parent.skipFailedRequests,
    passOnStoreError: readBoolean(block, 'passOnStoreError', fullKey) ?? parent.passOnStoreError,
    store,
  };
  const principals = readPrincipalLimits(block, fullKey, parent.principals);
  if (principals) {
    options.principals = principals;
  }
  const connections =
    readLimit(block, fullKey, 'webSocketConnectionLimit') ?? parent.webSocketConnectionLimit;
  if (connections !== undefined) {
    options.webSocketConnectionLimit = connections;
  }
  return { options, warnings: skipSuccessful.warnings };
}
