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
import { createRateLimitContext, type RateLimitContext } from './context';
import { carriesCredentials, limiterName } from './limiter';
import { createBudgets, createPrincipalLimiter, type PathAccess } from './principals';
import type { PrincipalLayer } from './principals';
import type { RateLimitRouteRule } from './types';

/** On `app.locals`, the mount paths of plugin routers that count credentials in the all-plugins budgets. */
const PRINCIPAL_MOUNTS = Symbol('rate-limit principal mounts');
/** Set on `res.locals` when the all-plugins limiter of the root router counted the request. */
const COUNTED_AT_ROOT = Symbol('rate-limit counted at the root');
/** Literal mount paths only, matched as express matches them; others are counted at the root. */
const LITERAL_MOUNT_PATH = /^\/[\w\-.~/]*$/;
/** Each backend's all-plugins limiter, keyed by its root config; weak, so a stopped backend is forgotten. */
const allPluginsLimiters = new WeakMap<object, RequestHandler>();

/** Options for {@link createRateLimitMiddleware}. @public */
export interface RateLimitMiddlewareOptions {
  /** The plugin whose router the limiter guards. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
  /** The root config; `backend.rateLimit` and `backend.trustProxy` are read from it. */
  config: RootConfigService;
  /** Defaults to none: express-rate-limit's messages go to the console, nothing else is logged. */
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
 * @remarks
 * Reads `backend.rateLimit` when called, so bad config fails at start-up. A plugin is limited when it has a
 * `plugin.<pluginId>` block, which takes the keys it leaves out from the top-level block; the all-plugins limiter
 * follows the top-level keys and is off with `global: false`. Over the limit it answers 429 itself; a store that
 * fails closed gives a 503 `ServiceUnavailableError` to `next`. With nothing to limit it passes every request on.
 * @public
 */
export function createRateLimitMiddleware(options: RateLimitMiddlewareOptions): RequestHandler {
  const { config, logger, lifecycle, ...handlerOptions } = options;
  const context = createRateLimitContext({ config, logger, lifecycle });
  return createRateLimitHandler(context, handlerOptions);
}

/** The root router's all-plugins limiter, which WebSocket upgrades of the same backend also pass. */
export function createAllPluginsLimiter(
  options: Omit<RateLimitMiddlewareOptions, 'pluginId'>,
): RequestHandler {
  const limiter = createRateLimitMiddleware(options);
  allPluginsLimiters.set(options.config, limiter);
  return limiter;
}

/**
 * The upgrade step that runs the all-plugins limiter of the backend whose root config is `backend`. Upstream's
 * root router skips its app's middleware for upgrades; an upgrade hook there would remove this.
 */
export function createAllPluginsLimitStep(backend: object): RequestHandler {
  return function allPluginsLimit(req, res, next) {
    (allPluginsLimiters.get(backend) ?? passThrough)(req, res, next);
  };
}

/** Options for {@link createRateLimitHandler}; `logger` and `lifecycle` default to the context's. */
export interface RateLimitHandlerOptions extends Omit<RateLimitMiddlewareOptions, 'config'> {
  /** What the plugin's auth policies ask of a path. Defaults to credentials on every path. */
  lookupAccess?: (path: string) => PathAccess;
  /** Counts requests with credentials in the all-plugins per-principal budgets, as our plugin routers do. */
  countsAllPlugins?: boolean;
  /** Where the plugin router is mounted, for the all-plugins limiter to leave its requests with credentials. */
  mountPath?: string;
}

/** A plugin router's rate limit step (or the all-plugins one), rebuilt on change; then each matching route rule. */
export function createRateLimitHandler(
  context: RateLimitContext,
  options: RateLimitHandlerOptions,
): RequestHandler {
  const build = (): RequestHandler => {
    const { pluginId, mountPath } = options;
    const pluginStep = createLimiterStep(context, options);
    const rules = pluginId === undefined ? undefined : context.settings.plugins[pluginId]?.routes;
    if (!rules) return pluginStep;
    const matchers = rules.map(rule => ({
      // express answers HEAD with the GET route.
      methods:
        rule.methods &&
        new Set([...rule.methods, ...(rule.methods.includes('GET') ? ['HEAD'] : [])]),
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
        if (error !== undefined) return next(error);
        while (index < matchers.length) {
          const { methods, matches, step } = matchers[index++];
          if ((!methods || methods.has(req.method)) && matches(path))
            return step(req, res, countInNextRule);
        }
        return next();
      };
      pluginStep(req, res, countInNextRule);
    };
  };
  let current = build();
  context.onChange(() => void (current = build()));
  return function liveRateLimit(req, res, next) {
    current(req, res, next);
  };
}

/** The rate limit step of the all-plugins limiter, of one plugin, or of one of its route rules. */
function createLimiterStep(
  context: RateLimitContext,
  options: RateLimitHandlerOptions,
  rule?: RateLimitRouteRule,
): RequestHandler {
  const { pluginId, httpAuth, mountPath } = options;
  const { settings, buildLimiter: build } = context;
  const lifecycle = options.lifecycle ?? context.lifecycle;
  const logger = options.logger ?? context.logger;
  const allPlugins = options.countsAllPlugins ? context.allPlugins() : undefined;
  const limiterOptions =
    rule?.options ?? (pluginId === undefined ? settings.global : settings.plugins[pluginId]);
  const route = rule?.name;
  const plugin = `plugin '${pluginId}'`;
  const name =
    pluginId === undefined ? 'all plugins' : route ? `route '${route}' of ${plugin}` : plugin;
  const policyName = limiterName(pluginId, route);
  // Built only when something is limited, so that a plugin without a limiter creates no instruments.
  const metrics = () =>
    (options.metrics ?? createHttpRouterMetrics({ pluginId })).rateLimit(policyName);

  const layers: PrincipalLayer[] = [];
  if (pluginId !== undefined && httpAuth !== undefined) {
    if (allPlugins) {
      const counts = (req: Request, res: Response) =>
        carriesCredentials(req, res) && !res.locals[COUNTED_AT_ROOT as never];
      layers.push({ budgets: allPlugins, counts });
    }
    if (limiterOptions?.principals) {
      const shared = { name, build, pluginId, route, logger, lifecycle, metrics: metrics() };
      const budgets = createBudgets({ ...shared, options: limiterOptions });
      layers.push({ budgets, counts: () => true });
    }
  }
  if (layers.length > 0) {
    const principalOptions = { ...options, layers, httpAuth: httpAuth!, policyName, logger };
    const principalLimiter = createPrincipalLimiter(principalOptions);
    const mount =
      allPlugins && mountPath && LITERAL_MOUNT_PATH.test(mountPath)
        ? mountPath.replace(/\/+$/, '').toLowerCase()
        : '';
    if (!mount) return principalLimiter;
    let recordedIn: object | undefined;
    return function pluginRateLimit(req, res, next) {
      if (recordedIn !== req.app) {
        recordedIn = req.app;
        ((req.app.locals as Mounts)[PRINCIPAL_MOUNTS] ??= new Set()).add(mount);
      }
      principalLimiter(req, res, next);
    };
  }
  if (!limiterOptions) {
    logger?.info(`Rate limiting is off for ${name}`);
    return passThrough;
  }
  const { limit, windowMs, store, ipAllowList, principals } = limiterOptions;
  const perAddress = "need the plugin's httpAuth; counting its requests per client address";
  const httpAuthMissing = pluginId !== undefined && principals;
  if (httpAuthMissing) logger?.warn(`Per-principal budgets of ${name} ${perAddress}`);
  const leavesCredentials = pluginId === undefined && principals !== undefined;
  const left = '; requests with credentials are counted by the plugin routers they reach';
  logger?.info(
    `Rate limiting ${name}: ${limit} requests per ${windowMs} ms per client, ${store.type} store, ` +
      `allow list ${JSON.stringify(ipAllowList)}${leavesCredentials ? left : ''}`,
  );
  const skip = leavesCredentials
    ? (_req: Request, res: Response) => !res.locals[COUNTED_AT_ROOT as never]
    : undefined;
  const limited = { options: limiterOptions, pluginId, route, logger, lifecycle, skip };
  const limiter = build({ ...limited, metrics: metrics() });
  if (!leavesCredentials) return limiter;
  return function allPluginsRateLimit(req, res, next) {
    if (!isLeftToPluginRouter(req, res)) res.locals[COUNTED_AT_ROOT as never] = true as never;
    limiter(req, res, next);
  };
}

type Mounts = { [PRINCIPAL_MOUNTS]?: Set<string> };

/** Whether a request with credentials reaches a plugin router that counts it per principal. */
function isLeftToPluginRouter(req: Request, res: Response): boolean {
  if (!carriesCredentials(req, res)) return false;
  const path = req.path.toLowerCase();
  for (const mount of (req.app.locals as Mounts)[PRINCIPAL_MOUNTS] ?? []) {
    if (path === mount || path.startsWith(`${mount}/`)) return true;
  }
  return false;
}
