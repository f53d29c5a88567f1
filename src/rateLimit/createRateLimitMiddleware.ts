import type {
  HttpAuthService,
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import type { RequestHandler } from 'express';
import type { HttpRouterMetrics } from '../metrics';
import { createRateLimitStep } from './createRateLimitStep';
import { isUnderPrincipalMount } from './principalMounts';
import { readRateLimitOptions } from './readRateLimitOptions';

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
  /**
   * The plugin's httpAuth, which per-principal budgets need to verify credentials. Defaults to none: a plugin's
   * limiter then counts every request per client address.
   */
  httpAuth?: HttpAuthService;
  /**
   * Where the limiter's decisions are counted (the `backstage.http_router.rate_limit.decisions` counter), from
   * {@link createHttpRouterMetrics}. Defaults to OpenTelemetry's global meter named `backstage-http-router`, with
   * the `plugin` attribute when `pluginId` is set, looked up when this is called: register an OpenTelemetry SDK
   * before the backend starts.
   */
  metrics?: HttpRouterMetrics;
}

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
 * Each call reads the config and logs its warnings. {@link httpRouterServiceFactory} does not call it per
 * plugin: it reads the config once per backend, and logs each warning once.
 *
 * Per-principal budgets (`userRequestLimit`, `serviceRequestLimit`, `failedAuthenticationLimit`) need the
 * plugin's `httpAuth`: without it, a plugin's limiter counts every request per address. With top-level
 * per-principal budgets, the all-plugins limiter leaves requests that carry credentials to the plugin routers
 * of {@link httpRouterServiceFactory} of the same backend, which count them per principal across plugins; only
 * those whose path lies under the mount path of such a router, so that every other request (a 404, a route of
 * the root router, the health routes, another httpRouter's plugins) is counted here.
 *
 * In a Backstage backend the all-plugins limiter belongs in the root router, in place of
 * `middleware.rateLimit()` in `rootHttpRouterServiceFactory({ configure })`. Which address counts is express's
 * `trust proxy` setting, which the root router takes from `backend.trustProxy`; this middleware never changes
 * app settings.
 *
 * @public
 */
export function createRateLimitMiddleware(options: RateLimitMiddlewareOptions): RequestHandler {
  const { pluginId, config, logger, lifecycle, httpAuth, metrics } = options;
  const settings = readRateLimitOptions(config);
  if (logger) {
    settings.warnings.forEach(warning => logger.warn(warning));
  }
  return createRateLimitStep({
    pluginId,
    settings,
    logger,
    lifecycle,
    httpAuth,
    metrics,
    // Only plugin routers of our httpRouter record their mount paths; anything else is counted here.
    countedByPluginRouter: req => isUnderPrincipalMount(config, req.path),
  });
}
