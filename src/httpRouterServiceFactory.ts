import {
  coreServices,
  createServiceFactory,
  type HttpRouterService,
  type ServiceFactory,
} from '@backstage/backend-plugin-api';
import type { Handler } from 'express';
import Router from 'express-promise-router';
import { describeValue, HttpRouterConfigError } from './errors';
import { createAuthIntegrationRouter } from './middleware/createAuthIntegrationRouter';
import { passThrough } from './middleware/passThrough';
import { createCookieAuthRefreshMiddleware } from './middleware/createCookieAuthRefreshMiddleware';
import { createCredentialsBarrier } from './middleware/createCredentialsBarrier';
import { createErrorHandler } from './middleware/createErrorHandler';
import { createLifecycleMiddleware } from './middleware/createLifecycleMiddleware';
import { lookupPathAccess } from './middleware/lookupPathAccess';
import { createHttpRouterMetrics, optionalMetricsServiceRef } from './metrics';
import { verifyRedisRateLimitConnections } from './rateLimit/redis/redisConnectionRegistry';
import { createAuthPolicyRegistry } from './authPolicy';
import { createAllPluginsBuckets, createRateLimitStep } from './rateLimit/createRateLimitStep';
import { addPrincipalMount } from './rateLimit/principalMounts';
import { readRateLimitOptions } from './rateLimit/readRateLimitOptions';

/**
 * Options for {@link httpRouterServiceFactory}.
 *
 * @public
 */
export interface HttpRouterFactoryOptions {
  /** Where a plugin's router is mounted on the root router. Defaults to `/api/<pluginId>`. */
  getPath?(pluginId: string): string;
}

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

/**
 * The handlers `http.use(handler)` adds: one function, or (as express's `router.use` takes them) arrays of
 * functions, nested to any depth. Anything else is refused at once, naming the plugin.
 */
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

function defaultGetPath(pluginId: string): string {
  return `/api/${pluginId}`;
}

function createHttpRouterServiceFactory(
  options?: HttpRouterFactoryOptions,
): ServiceFactory<HttpRouterService, 'plugin', 'singleton'> {
  const getPath = options?.getPath ?? defaultGetPath;
  return createServiceFactory({
    service: coreServices.httpRouter,
    initialization: 'always',
    // `backend.rateLimit` is read once per backend: bad config fails once, each warning is logged once, and the
    // all-plugins per-principal budgets are shared by every plugin router.
    createRootContext({ config, rootLogger, rootLifecycle }) {
      const settings = readRateLimitOptions(config);
      const logger = rootLogger.child({ service: 'httpRouter' });
      settings.warnings.forEach(warning => logger.warn(warning));
      const allPlugins = createAllPluginsBuckets({
        settings,
        logger,
        lifecycle: rootLifecycle,
      });
      const redisConnections = [settings.global, ...Object.values(settings.plugins)].flatMap(
        options => (options?.store.type === 'redis' ? [options.store.connection] : []),
      );
      return { settings, allPlugins, redisConnections };
    },
    deps: {
      rootLogger: coreServices.rootLogger,
      rootLifecycle: coreServices.rootLifecycle,
      plugin: coreServices.pluginMetadata,
      config: coreServices.rootConfig,
      lifecycle: coreServices.lifecycle,
      rootHttpRouter: coreServices.rootHttpRouter,
      auth: coreServices.auth,
      httpAuth: coreServices.httpAuth,
      logger: coreServices.logger,
      metricsService: optionalMetricsServiceRef,
    },
    async factory(
      { plugin, config, lifecycle, rootHttpRouter, auth, httpAuth, logger, metricsService },
      rateLimit,
    ) {
      const pluginId = plugin.getId();
      const metrics = createHttpRouterMetrics({ meter: metricsService, pluginId });
      const credentialsBarrier = createCredentialsBarrier({
        httpAuth,
        config,
        pluginId,
        logger,
        lifecycle,
        metrics: metrics.credentialsBarrier,
      });
      // The limiter verifies credentials the way the barrier will for the path, so that httpAuth's per-request
      // cache answers the barrier. A copy of the policies, so that the barrier stays as it is.
      const policies = createAuthPolicyRegistry({ pluginId });

      // As upstream: one promise router per plugin, our steps first, the plugin's handlers in a nested router
      // of their own, then the error handler. An error from one of our steps (401, 429, 503) skips the nested
      // router, so the plugin's own error handlers never see it. Switched-off steps are left out.
      const router = Router();
      const steps = [
        createRateLimitStep({
          pluginId,
          settings: rateLimit.settings,
          logger,
          lifecycle,
          httpAuth,
          lookupAccess: path => lookupPathAccess(policies.lookup, path),
          allPlugins: rateLimit.allPlugins,
          metrics,
        }),
        createAuthIntegrationRouter({ auth }),
        createLifecycleMiddleware({ config, lifecycle, logger, metrics: metrics.lifecycleGate }),
        credentialsBarrier.middleware,
        createCookieAuthRefreshMiddleware({ auth, httpAuth }),
      ];
      // Fails the start-up when Redis refuses the configured database, rather than counting elsewhere.
      await verifyRedisRateLimitConnections(rateLimit.redisConnections);
      for (const step of steps) {
        if (step !== passThrough) {
          router.use(step);
        }
      }
      const pluginRoutes = Router();
      router.use(pluginRoutes);
      router.use(createErrorHandler({ logger }));
      const mountPath = readMountPath(getPath, pluginId);
      rootHttpRouter.use(mountPath, router);
      if (rateLimit.allPlugins) {
        // Every request with credentials under this path is counted in the all-plugins budgets by our first
        // step, so the root router's all-plugins limiter leaves it to us.
        addPrincipalMount(config, mountPath);
      }

      return {
        use(handler: Handler) {
          pluginRoutes.use(readHandlers(pluginId, handler));
        },
        addAuthPolicy(policy) {
          credentialsBarrier.addAuthPolicy(policy);
          policies.add(policy);
        },
      };
    },
  });
}

/**
 * The `httpRouter` service: a drop-in replacement for the one in `@backstage/backend-defaults`.
 *
 * @remarks
 * Mounts one express-promise-router per plugin at `/api/<pluginId>` (see {@link HttpRouterFactoryOptions}) that
 * applies, in order: rate limiting ({@link createRateLimitMiddleware}, from settings read once per backend; per
 * verified principal when `backend.rateLimit` sets per-principal budgets), the auth integration routes
 * ({@link createAuthIntegrationRouter}), the lifecycle gate ({@link createLifecycleMiddleware}), the
 * credentials barrier ({@link createCredentialsBarrier}), the cookie refresh routes
 * ({@link createCookieAuthRefreshMiddleware}), a nested express-promise-router with the plugin's own handlers, and an
 * error handler ({@link createErrorHandler}). Use it bare,
 * `backend.add(httpRouterServiceFactory)`, or with options, `backend.add(httpRouterServiceFactory({ getPath }))`.
 *
 * @public
 */
export const httpRouterServiceFactory = Object.assign(
  createHttpRouterServiceFactory,
  createHttpRouterServiceFactory(),
);
