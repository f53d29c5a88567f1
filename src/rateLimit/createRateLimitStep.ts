import type {
  HttpAuthService,
  LifecycleService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import type { Request, RequestHandler } from 'express';
import { createHttpRouterMetrics, type HttpRouterMetrics, type RateLimitMetrics } from '../metrics';
import { passThrough } from '../middleware/passThrough';
import {
  createPrincipalRateLimitMiddleware,
  type PathAccess,
} from './createPrincipalRateLimitMiddleware';
import { createRateLimitBuckets, type RateLimitBuckets } from './createRateLimitBuckets';
import { createRateLimiter } from './createRateLimiter';
import { createLimiterStore } from './createRateLimitStore';
import { getBucketKeyPrefix } from './getBucketKeyPrefix';
import type { RateLimitOptions, RateLimitSettings } from './types';

/**
 * Options for {@link createRateLimitStep}.
 *
 * @internal
 */
export interface RateLimitStepOptions {
  /** The plugin; none for the all-plugins limiter of the root router. */
  pluginId?: string;
  /** What {@link readRateLimitOptions} read, once per backend. No default: required. */
  settings: RateLimitSettings;
  /** Receives the start-up summary and the limiters' messages. Defaults to none. */
  logger?: LoggerService;
  /** Stops the stores at shutdown. Defaults to none. */
  lifecycle?: LifecycleService;
  /** The plugin's httpAuth, needed by per-principal budgets. Defaults to none: counted per address. */
  httpAuth?: HttpAuthService;
  /** What the plugin's auth policies ask of a path. Defaults to credentials on every path. */
  lookupAccess?: (path: string) => PathAccess;
  /**
   * The all-plugins per-principal budgets, built once per backend by {@link createAllPluginsBuckets} and
   * shared by every plugin router. Defaults to none.
   */
  allPlugins?: RateLimitBuckets;
  /**
   * For the all-plugins limiter with per-principal budgets: whether a request with credentials reaches a plugin
   * router that counts it per principal, and so is left uncounted here. Defaults to none: counted here.
   */
  countedByPluginRouter?: (req: Request) => boolean;
  /**
   * The plugin's instruments, from {@link createHttpRouterMetrics}. Defaults to OpenTelemetry's global meter
   * (with the `plugin` attribute for a plugin), looked up when this is called.
   */
  metrics?: HttpRouterMetrics;
}

/** The `RateLimit-Policy` name, and the `limiter` attribute, of the all-plugins limiter and budgets. */
const GLOBAL_POLICY_NAME = 'global';

/**
 * Builds the all-plugins per-principal budgets that every plugin router counts in, or `undefined` when the
 * top-level block sets no per-principal budget or `global` is `false`.
 *
 * @internal
 */
export function createAllPluginsBuckets(options: {
  settings: RateLimitSettings;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
  /** Where the budgets' decisions are counted, as `global`. Defaults to OpenTelemetry's global meter. */
  metrics?: HttpRouterMetrics;
}): RateLimitBuckets | undefined {
  const { settings, logger, lifecycle, metrics = createHttpRouterMetrics() } = options;
  if (!settings.global?.principals) {
    return undefined;
  }
  logger?.info(`Rate limiting all plugins per principal: ${describeBudgets(settings.global)}`);
  return createRateLimitBuckets({
    options: settings.global,
    logger,
    lifecycle,
    metrics: metrics.rateLimit(GLOBAL_POLICY_NAME),
  });
}

/**
 * Builds the rate limit step of one plugin router, or the all-plugins limiter of the root router, from settings
 * already read.
 *
 * @internal
 */
export function createRateLimitStep(options: RateLimitStepOptions): RequestHandler {
  const { pluginId, settings, logger, lifecycle, httpAuth, lookupAccess, allPlugins } = options;
  const { countedByPluginRouter } = options;
  const limiterOptions = pluginId === undefined ? settings.global : settings.plugins[pluginId];
  const name = pluginId === undefined ? 'all plugins' : `plugin '${pluginId}'`;
  const policyName = pluginId === undefined ? GLOBAL_POLICY_NAME : `plugin-${pluginId}`;
  // Built only when the step limits something, so that a plugin without a limiter creates no instruments.
  const recorder = () =>
    (options.metrics ?? createHttpRouterMetrics({ pluginId })).rateLimit(policyName);
  const perPrincipal = pluginId !== undefined && httpAuth !== undefined;
  const layers = [];
  if (perPrincipal && allPlugins) {
    layers.push({ buckets: allPlugins, onlyWithCredentials: true });
  }
  if (perPrincipal && limiterOptions?.principals) {
    logger?.info(`Rate limiting ${name} per principal: ${describeBudgets(limiterOptions)}`);
    const buckets = createRateLimitBuckets({
      options: limiterOptions,
      pluginId,
      logger,
      lifecycle,
      metrics: recorder(),
    });
    layers.push({ buckets, onlyWithCredentials: false });
  }
  const principalStep =
    httpAuth && layers.length > 0
      ? createPrincipalRateLimitMiddleware({
          layers,
          httpAuth,
          lookupAccess,
          policyName,
          logger,
        })
      : undefined;
  // A plugin block inherits the top-level budgets, so a plugin under all-plugins budgets has budgets of its own
  // whenever it has a block: the per-principal step then does all the counting.
  if (principalStep) {
    return principalStep;
  }
  if (!limiterOptions) {
    logger?.info(`Rate limiting is off for ${name}`);
    return passThrough;
  }
  if (pluginId !== undefined && limiterOptions.principals) {
    logger?.warn(
      `Per-principal budgets of ${name} need the plugin's httpAuth; counting its requests per client address`,
    );
  }
  return createAddressLimiter({
    limiterOptions,
    pluginId,
    name,
    logger,
    lifecycle,
    countedByPluginRouter,
    metrics: recorder(),
  });
}

/** The limiter per client address, as before per-principal budgets existed. */
function createAddressLimiter(options: {
  limiterOptions: RateLimitOptions;
  pluginId: string | undefined;
  name: string;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
  countedByPluginRouter?: (req: Request) => boolean;
  metrics: RateLimitMetrics;
}): RequestHandler {
  const { limiterOptions, pluginId, name, logger, lifecycle, countedByPluginRouter, metrics } =
    options;
  const store = createLimiterStore({
    store: limiterOptions.store,
    prefix: getBucketKeyPrefix(pluginId),
    passOnStoreError: limiterOptions.passOnStoreError,
    logger,
    lifecycle,
    metrics,
  });
  const credentialsElsewhere =
    pluginId === undefined && limiterOptions.principals !== undefined
      ? countedByPluginRouter
      : undefined;
  logger?.info(
    `Rate limiting ${name}: ${limiterOptions.limit} requests per ${limiterOptions.windowMs} ms per client, ` +
      `${limiterOptions.store.type} store, allow list ${JSON.stringify(limiterOptions.ipAllowList)}` +
      (credentialsElsewhere
        ? '; requests with credentials are counted by the plugin routers they reach'
        : ''),
  );
  return createRateLimiter({
    options: limiterOptions,
    pluginId,
    store,
    logger,
    skipWithCredentials: credentialsElsewhere,
    metrics,
  });
}

function describeBudgets(options: RateLimitOptions): string {
  const { user, service, failedAuthentication } = options.principals ?? {};
  const perWindow = `per ${options.windowMs} ms`;
  return (
    `anonymous ${options.limit}, user ${user ?? 'per address'}, service ${service ?? 'per address'}, ` +
    `failed authentications ${failedAuthentication ?? 'not limited'} ${perWindow}, ${options.store.type} store`
  );
}
