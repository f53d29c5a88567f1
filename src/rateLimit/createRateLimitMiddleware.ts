import type {
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import type { RequestHandler } from 'express';
import { passThrough } from '../middleware/passThrough';
import { createRateLimiter } from './createRateLimiter';
import { createRateLimitStore } from './createRateLimitStore';
import { readRateLimitOptions } from './readRateLimitOptions';
import { getRateLimitKeyPrefix } from './redis/getRateLimitKeyPrefix';

/**
 * Options for {@link createRateLimitMiddleware}.
 *
 * @public
 */
export interface RateLimitMiddlewareOptions {
  /**
   * The plugin whose router the limiter guards, limited by `backend.rateLimit.plugin.<pluginId>`.
   * Defaults to none: the all-plugins limiter, configured by the top-level `backend.rateLimit` keys.
   */
  pluginId?: string;
  /** The root config; `backend.rateLimit` and `backend.trustProxy` are read from it. No default: required. */
  config: RootConfigService;
  /**
   * Receives config warnings, the start-up summary, Redis outages, proxy header warnings and express-rate-limit's
   * own messages. Defaults to none: express-rate-limit's messages then go to the console, as with `rateLimit()`
   * used directly, and nothing else is logged.
   */
  logger?: LoggerService;
  /**
   * Stops the store (the memory store's timer, a Redis connection) at shutdown; a plugin's or the root
   * lifecycle. Defaults to none: the memory store's timer is unref'd, so it never holds the process open.
   */
  lifecycle?: LifecycleService;
}

/** Config warnings already logged, per config, so that each shows once rather than once per plugin. */
const loggedWarnings = new WeakMap<RootConfigService, Set<string>>();

/**
 * Creates the rate limiter of one plugin, or the all-plugins limiter when `pluginId` is left out.
 *
 * @remarks
 * Reads `backend.rateLimit` with {@link readRateLimitOptions} when called, so bad config fails at start-up,
 * and builds the limiter with express-rate-limit's `rateLimit()` over a store from {@link createRateLimitStore}:
 * express-rate-limit's `MemoryStore`, or the Redis store. Over the limit, it answers 429 itself, with
 * `Retry-After` and Backstage's error body, in a plugin router as in any express app; `req.rateLimit` is set by
 * express-rate-limit. A store that cannot count (the Redis store failing closed) turns into a
 * `ServiceUnavailableError` (503) passed to `next`, without the store's message. A plugin is
 * limited only when it has a `plugin.<pluginId>` block (as upstream); the block takes every key it leaves out
 * from the top-level block. The all-plugins limiter follows the top-level keys and is off with `global: false`.
 * When there is nothing to limit, the returned handler passes every request on.
 *
 * In a Backstage backend the all-plugins limiter belongs in the root router, in place of
 * `middleware.rateLimit()` in `rootHttpRouterServiceFactory({ configure })`. Which address counts is express's
 * `trust proxy` setting, which the root router takes from `backend.trustProxy`; this middleware never changes
 * app settings.
 *
 * @public
 */
export function createRateLimitMiddleware(options: RateLimitMiddlewareOptions): RequestHandler {
  const { pluginId, config, logger, lifecycle } = options;
  const settings = readRateLimitOptions(config);
  if (logger) {
    logWarningsOnce(config, settings.warnings, logger);
  }

  const limiterOptions = pluginId === undefined ? settings.global : settings.plugins[pluginId];
  const name = pluginId === undefined ? 'all plugins' : `plugin '${pluginId}'`;
  if (!limiterOptions) {
    logger?.info(`Rate limiting is off for ${name}`);
    return passThrough;
  }

  const store = createRateLimitStore({
    store: limiterOptions.store,
    prefix: getRateLimitKeyPrefix(pluginId),
    passOnStoreError: limiterOptions.passOnStoreError,
    logger,
  });
  lifecycle?.addShutdownHook(async () => {
    await store.shutdown?.();
  });
  logger?.info(
    `Rate limiting ${name}: ${limiterOptions.limit} requests per ${limiterOptions.windowMs} ms per client, ` +
      `${limiterOptions.store.type} store, allow list ${JSON.stringify(limiterOptions.ipAllowList)}`,
  );
  return createRateLimiter({ options: limiterOptions, pluginId, store, logger });
}

function logWarningsOnce(
  config: RootConfigService,
  warnings: readonly string[],
  logger: LoggerService,
): void {
  let logged = loggedWarnings.get(config);
  if (!logged) {
    logged = new Set();
    loggedWarnings.set(config, logged);
  }
  for (const warning of warnings) {
    if (!logged.has(warning)) {
      logged.add(warning);
      logger.warn(warning);
    }
  }
}
