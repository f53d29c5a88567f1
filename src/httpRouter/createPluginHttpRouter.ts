import type {
  AuthService,
  HttpAuthService,
  HttpRouterService,
  LifecycleService,
  LoggerService,
  PluginMetadataService,
  RootConfigService,
  RootHttpRouterService,
} from '@backstage/backend-plugin-api';
import type { Handler } from 'express';
import Router from 'express-promise-router';
import { describeValue, HttpRouterConfigError } from '../errors';
import { createConnectionCounter, type ConnectionCounter } from './connectionLimit';
import { createWebSocketRoutes } from './createWebSocketRoutes';
import type { RootWebSocketRouter } from './types';
import { createHttpRouterMetrics, type HttpRouterMeter } from '../metrics';
import { createAuthIntegrationRouter } from '../middleware/createAuthIntegrationRouter';
import { createCookieAuthRefreshMiddleware } from '../middleware/createCookieAuthRefreshMiddleware';
import { createCredentialsBarrier } from '../middleware/createCredentialsBarrier';
import { createErrorHandler } from '../middleware/createErrorHandler';
import { createLifecycleMiddleware } from '../middleware/createLifecycleMiddleware';
import { passThrough } from '../middleware/passThrough';
import type { RateLimitContext } from '../rateLimit/context';
import { createRateLimitHandler } from '../rateLimit/createRateLimitMiddleware';

function readMountPath(getPath: (pluginId: string) => string, pluginId: string): string {
  const path = getPath(pluginId);
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new HttpRouterConfigError(
      'getPath',
      `expected getPath('${pluginId}') to return a path starting with '/', got ${describeValue(path)}`,
    );
  }
  return path;
}

/** The handlers of `http.use(handler)`: a function or nested arrays of them, as `router.use` takes. */
function readHandlers(pluginId: string, handler: unknown): Handler[] {
  const handlers = Array.isArray(handler) ? handler.flat(Infinity) : [handler];
  const refused = handlers.findIndex(item => typeof item !== 'function');
  if (handlers.length === 0 || refused !== -1) {
    const got = refused === -1 ? 'an empty array' : describeValue(handlers[refused]);
    throw new TypeError(
      `httpRouter.use() of plugin '${pluginId}' expects a request handler function (or an array of them), ` +
        `got ${got}`,
    );
  }
  return handlers as Handler[];
}

/** The `httpRouter` factory's deps, its root context and `getPath`. */
export interface PluginHttpRouterOptions {
  plugin: PluginMetadataService;
  config: RootConfigService;
  lifecycle: LifecycleService;
  rootHttpRouter: RootHttpRouterService;
  auth: AuthService;
  httpAuth: HttpAuthService;
  logger: LoggerService;
  metricsService?: HttpRouterMeter;
  rateLimit: RateLimitContext;
  /** The all-plugins WebSocket connection counter, if any; the plugin's own is built here. */
  connectionCounters: readonly ConnectionCounter[];
  /** Shared by the plugin routers of one backend: its shutdown warning is logged once. */
  shutdownWarning: { logged: boolean };
  getPath: (pluginId: string) => string;
}

/** Builds one plugin's router, mounts it on the root router and returns the plugin's `httpRouter` service. */
export async function createPluginHttpRouter(
  options: PluginHttpRouterOptions,
): Promise<HttpRouterService> {
  const { plugin, config, lifecycle, rootHttpRouter, auth, httpAuth, logger, metricsService } =
    options;
  const { rateLimit, getPath, shutdownWarning } = options;
  const pluginId = plugin.getId();
  const mountPath = readMountPath(getPath, pluginId);
  const metrics = createHttpRouterMetrics({ meter: metricsService, pluginId });
  const credentialsBarrier = createCredentialsBarrier({
    httpAuth,
    config,
    pluginId,
    logger,
    lifecycle,
    metrics: metrics.credentialsBarrier,
  });

  // As upstream: our steps, the plugin's handlers in a nested router (so an error from our steps never reaches
  // the plugin's own error handlers), then the error handler. Switched-off steps are left out.
  const router = Router();
  const rateLimitStep = createRateLimitHandler(rateLimit, {
    pluginId,
    logger,
    lifecycle,
    httpAuth,
    // The limiter verifies credentials the way the barrier will for the path, so that httpAuth's per-request
    // cache answers the barrier.
    lookupAccess: credentialsBarrier.lookupAccess,
    countsAllPlugins: true,
    mountPath,
    metrics,
  });
  const lifecycleGate = createLifecycleMiddleware({
    config,
    lifecycle,
    logger,
    metrics: metrics.lifecycleGate,
    shutdownWarning,
  });
  const steps = [
    rateLimitStep,
    createAuthIntegrationRouter({ auth }),
    lifecycleGate,
    credentialsBarrier.middleware,
    createCookieAuthRefreshMiddleware({ auth, httpAuth }),
  ];
  // Fails the start-up when Redis refuses the configured database, rather than counting elsewhere.
  await rateLimit.verifyRedis();
  for (const step of steps) {
    if (step !== passThrough) {
      router.use(step);
    }
  }
  const pluginRoutes = Router();
  router.use(pluginRoutes);
  const errorHandler = createErrorHandler({ logger });
  router.use(errorHandler);
  rootHttpRouter.use(mountPath, router);

  const service = {
    use(handler: Handler) {
      pluginRoutes.use(readHandlers(pluginId, handler));
    },
    addAuthPolicy(policy) {
      credentialsBarrier.addAuthPolicy(policy);
    },
  } as HttpRouterService;
  // Absent before Backstage 0.19, as upstream's, so that plugins which feature-detect it keep their fallback.
  const root = rootHttpRouter as Partial<RootWebSocketRouter>;
  if (typeof root.addWebSocketHandler === 'function') {
    const limit = rateLimit.settings.plugins[pluginId]?.webSocketConnectionLimit;
    const pluginConnections =
      limit === undefined ? [] : [createConnectionCounter(limit, `in plugin '${pluginId}'`)];
    const addWebSocketHandler = createWebSocketRoutes({
      pluginId,
      mountPath,
      rootHttpRouter: root as RootWebSocketRouter,
      auth,
      config,
      logger,
      rateLimit: rateLimitStep,
      lifecycleGate,
      connectionCounters: [...options.connectionCounters, ...pluginConnections],
      errorHandler,
      metrics: metrics.webSockets,
    });
    Object.assign(service, { addWebSocketHandler });
  }
  return service;
}
