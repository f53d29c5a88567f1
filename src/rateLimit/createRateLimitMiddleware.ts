import type {
  HttpAuthService,
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import type { Request, RequestHandler, Response } from 'express';
import { compilePolicyPath } from '../authPolicy/paths';
import { createHttpRouterMetrics, type HttpRouterMetrics } from '../metrics';
import { passThrough } from '../middleware/passThrough';
import { createRateLimitContext, describeBudgets, type RateLimitContext } from './context';
import { carriesCredentials, createLimiter, limiterName } from './limiter';
import {
  createBudgets,
  createPrincipalLimiter,
  type PathAccess,
  type PrincipalLayer,
} from './principals';
import { createRateLimitStore, rateLimitKeyPrefix } from './store';
import type { RateLimitRouteRule } from './types';

/**
 * Options for {@link createRateLimitMiddleware}.
 *
 * @public
 */
export interface RateLimitMiddlewareOptions {
  /** The plugin whose router the limiter guards. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
  /** The root config; `backend.rateLimit` and `backend.trustProxy` are read from it. No default: required. */
  config: RootConfigService;
  /**
   * Receives config warnings, the start-up summary, Redis outages, proxy header warnings and express-rate-limit's
   * messages. Defaults to none: express-rate-limit's messages go to the console, nothing else is logged.
   */
  logger?: LoggerService;
  /** Stops the stores at shutdown. Defaults to none: the memory store's timer is unref'd anyway. */
  lifecycle?: LifecycleService;
  /** The plugin's httpAuth, which per-principal budgets need. Defaults to none: counted per address. */
  httpAuth?: HttpAuthService;
  /** Where decisions are counted. Defaults to OpenTelemetry's global meter named `backstage-http-router`. */
  metrics?: HttpRouterMetrics;
}

/**
 * Creates the rate limiter of one plugin, or the all-plugins limiter when `pluginId` is left out.
 *
 * @remarks
 * Reads `backend.rateLimit` when called, so bad config fails at start-up. A plugin is limited when it has a
 * `plugin.<pluginId>` block, which takes the keys it leaves out from the top-level block; the all-plugins limiter
 * follows the top-level keys and is off with `global: false`. Over the limit it answers 429 itself; a store that
 * fails closed gives a 503 `ServiceUnavailableError` to `next`. With nothing to limit it passes every request on.
 *
 * @public
 */
export function createRateLimitMiddleware(options: RateLimitMiddlewareOptions): RequestHandler {
  const { config, logger, lifecycle, ...handlerOptions } = options;
  return createRateLimitHandler(
    createRateLimitContext({ config, logger, lifecycle }),
    handlerOptions,
  );
}

/** Where the plugin routers that count credentialed requests per principal record their mount paths. */
const PRINCIPAL_MOUNTS = Symbol('rate-limit principal mounts');
/** Set on `res.locals` when the all-plugins limiter of the root router counted the request. */
const COUNTED_AT_ROOT = Symbol('rate-limit counted at the root');
/** Literal mount paths only, matched as express matches them; others are counted at the root. */
const LITERAL_MOUNT_PATH = /^\/[\w\-.~/]*$/;

/** Options for {@link createRateLimitHandler}. */
export interface RateLimitHandlerOptions {
  pluginId?: string;
  httpAuth?: HttpAuthService;
  /** What the plugin's auth policies ask of a path. Defaults to credentials on every path. */
  lookupAccess?: (path: string) => PathAccess;
  /**
   * Counts requests with credentials in the all-plugins per-principal budgets, as every plugin router of our
   * httpRouter does. Defaults to false, as `createRateLimitMiddleware` used on its own.
   */
  countsAllPlugins?: boolean;
  /** Where the plugin router is mounted, for the all-plugins limiter to leave its requests with credentials. */
  mountPath?: string;
  /** The plugin's lifecycle, which stops its stores. Defaults to the context's. */
  lifecycle?: LifecycleService;
  /** The plugin's logger. Defaults to the context's. */
  logger?: LoggerService;
  metrics?: HttpRouterMetrics;
}

/** The rate limit step of one plugin router, or the all-plugins limiter, rebuilt when the settings change. */
export function createRateLimitHandler(
  context: RateLimitContext,
  options: RateLimitHandlerOptions,
): RequestHandler {
  let current = buildRateLimitHandler(context, options);
  context.onChange(() => {
    current = buildRateLimitHandler(context, options);
  });
  return function liveRateLimit(req, res, next) {
    current(req, res, next);
  };
}

/**
 * Builds the rate limit step of one plugin router, or the all-plugins limiter, from the context's settings.
 *
 * @remarks
 * With top-level per-principal budgets, each plugin router counts the requests with credentials in the
 * all-plugins budgets, and records its mount path in the express app's `locals`; the all-plugins limiter in the
 * root router leaves to them the requests with credentials under such a path, and counts every other request.
 * A request the plugin's budgets let through is then counted by each of its route rules whose methods and path
 * (relative to the mount path) it matches, in order.
 */
function buildRateLimitHandler(
  context: RateLimitContext,
  options: RateLimitHandlerOptions,
): RequestHandler {
  const { pluginId, mountPath } = options;
  const pluginStep = createLimiterStep(context, options);
  const rules = pluginId === undefined ? undefined : context.settings.plugins[pluginId]?.routes;
  if (!rules) return pluginStep;
  const matchers = rules.map(rule => ({
    // express answers HEAD with the GET route.
    methods:
      rule.methods &&
      new Set(rule.methods.includes('GET') ? [...rule.methods, 'HEAD'] : rule.methods),
    // Case-insensitive, as the plugin's router routes: a changed case must not step around a rule.
    matches: compilePolicyPath(rule.path, { sensitive: false }).matches,
    step: createLimiterStep(context, { ...options, countsAllPlugins: false }, rule),
  }));
  const mountLength = mountPath?.replace(/\/+$/, '').length ?? 0;
  return function routesRateLimit(req, res, next) {
    // A WebSocket upgrade runs the steps in an app of its own at the root, so its path still holds the mount.
    const path =
      req.baseUrl === '' && mountLength > 0 ? req.path.slice(mountLength) || '/' : req.path;
    let index = 0;
    const countInNextRule = (error?: unknown): void => {
      if (error !== undefined) {
        next(error);
        return;
      }
      while (index < matchers.length) {
        const { methods, matches, step } = matchers[index++];
        if ((!methods || methods.has(req.method)) && matches(path)) {
          step(req, res, countInNextRule);
          return;
        }
      }
      next();
    };
    pluginStep(req, res, countInNextRule);
  };
}

/** The rate limit step of the all-plugins limiter, of one plugin, or of one of its route rules. */
function createLimiterStep(
  context: RateLimitContext,
  options: RateLimitHandlerOptions,
  rule?: RateLimitRouteRule,
): RequestHandler {
  const { pluginId, httpAuth, lookupAccess, mountPath } = options;
  const { settings, connections } = context;
  const allPlugins = options.countsAllPlugins ? context.allPlugins() : undefined;
  const lifecycle = options.lifecycle ?? context.lifecycle;
  const logger = options.logger ?? context.logger;
  const limiterOptions =
    rule?.options ?? (pluginId === undefined ? settings.global : settings.plugins[pluginId]);
  const route = rule?.name;
  const name =
    pluginId === undefined
      ? 'all plugins'
      : `${route === undefined ? '' : `route '${route}' of `}plugin '${pluginId}'`;
  const policyName = limiterName(pluginId, route);
  // Built only when something is limited, so that a plugin without a limiter creates no instruments.
  const metrics = () =>
    (options.metrics ?? createHttpRouterMetrics({ pluginId })).rateLimit(policyName);

  const layers: PrincipalLayer[] = [];
  if (pluginId !== undefined && httpAuth !== undefined) {
    if (allPlugins) {
      layers.push({
        budgets: allPlugins,
        counts: (req, res) => carriesCredentials(req, res) && !res.locals[COUNTED_AT_ROOT as never],
      });
    }
    if (limiterOptions?.principals) {
      logger?.info(`Rate limiting ${name} per principal: ${describeBudgets(limiterOptions)}`);
      const budgets = createBudgets({
        options: limiterOptions,
        pluginId,
        route,
        connections,
        logger,
        lifecycle,
        metrics: metrics(),
        digestKey: context.digestKey,
        stores: context.stores,
      });
      layers.push({ budgets, counts: () => true });
    }
  }
  if (layers.length > 0) {
    const principalLimiter = createPrincipalLimiter({
      layers,
      httpAuth: httpAuth!,
      lookupAccess,
      policyName,
      logger,
    });
    const mount =
      allPlugins && mountPath && LITERAL_MOUNT_PATH.test(mountPath)
        ? mountPath.replace(/\/+$/, '').toLowerCase()
        : '';
    if (!mount) {
      return principalLimiter;
    }
    let recordedIn: object | undefined;
    return function pluginRateLimit(req, res, next) {
      if (recordedIn !== req.app) {
        recordedIn = req.app;
        (
          (req.app.locals[PRINCIPAL_MOUNTS as never] as Set<string> | undefined) ??
          (req.app.locals[PRINCIPAL_MOUNTS as never] = new Set<string>() as never)
        ).add(mount);
      }
      principalLimiter(req, res, next);
    };
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
  const leavesCredentials = pluginId === undefined && limiterOptions.principals !== undefined;
  logger?.info(
    `Rate limiting ${name}: ${limiterOptions.limit} requests per ${limiterOptions.windowMs} ms per client, ` +
      `${limiterOptions.store.type} store, allow list ${JSON.stringify(limiterOptions.ipAllowList)}` +
      (leavesCredentials
        ? '; requests with credentials are counted by the plugin routers they reach'
        : ''),
  );
  const limiterMetrics = metrics();
  const store = createRateLimitStore({
    options: limiterOptions,
    prefix: rateLimitKeyPrefix(pluginId, undefined, route),
    connections,
    lifecycle,
    metrics: limiterMetrics,
    stores: context.stores,
  });
  const limiter = createLimiter({
    options: limiterOptions,
    pluginId,
    route,
    store,
    logger,
    metrics: limiterMetrics,
    digestKey: context.digestKey,
    skip: leavesCredentials ? (_req, res) => !res.locals[COUNTED_AT_ROOT as never] : undefined,
  });
  if (!leavesCredentials) {
    return limiter;
  }
  return function allPluginsRateLimit(req, res, next) {
    if (!isLeftToPluginRouter(req, res)) {
      res.locals[COUNTED_AT_ROOT as never] = true as never;
    }
    limiter(req, res, next);
  };
}

/** Whether a request with credentials reaches a plugin router that counts it per principal. */
function isLeftToPluginRouter(req: Request, res: Response): boolean {
  if (!carriesCredentials(req, res)) return false;
  const mounts = req.app?.locals[PRINCIPAL_MOUNTS as never] as Set<string> | undefined;
  if (!mounts) return false;
  const path = req.path.toLowerCase();
  for (const mount of mounts) {
    if (path === mount || path.startsWith(`${mount}/`)) return true;
  }
  return false;
}
