import {
  coreServices,
  createServiceFactory,
  type HttpRouterService,
  type ServiceFactory,
} from '@backstage/backend-plugin-api';
import {
  createAuthIntegrationRouter,
  createCookieAuthRefreshMiddleware,
} from '@backstage/backend-defaults/httpRouter';
import type { ErrorRequestHandler, Handler, RequestHandler } from 'express';
import Router from 'express-promise-router';
import { describeValue, HttpRouterConfigError } from '../errors';
import { createHttpRouterMetrics, optionalMetricsServiceRef } from '../metrics';
import { createCredentialsBarrier } from '../middleware/createCredentialsBarrier';
import { createErrorHandler } from '../middleware/createErrorHandler';
import { createLifecycleMiddleware } from '../middleware/createLifecycleMiddleware';
import { passThrough } from '../middleware/passThrough';
import { rateLimitContextServiceRef } from '../rateLimit/context';
import { createRateLimitHandler } from '../rateLimit/createRateLimitMiddleware';
import { createWebSocketRoutes, type ConnectionCounter } from './createWebSocketRoutes';
import type { RootWebSocketRouter } from './types';

/** Options for {@link httpRouterServiceFactory}. @public */
export interface HttpRouterFactoryOptions {
  /** Where a plugin's router is mounted on the root router. Defaults to `/api/<pluginId>`. */
  getPath?(pluginId: string): string;
}

/** The paths of upstream's auth routers, as their express routes match: regardless of case. */
const WELL_KNOWN_AUTH_PATHS = /^\/\.backstage\/auth\/v1\//i;

/** Runs `router` only for the well-known auth paths, so that other requests skip its layers. */
const onlyForAuthPaths = (router: RequestHandler): RequestHandler =>
  function wellKnownAuthRoutes(req, res, next) {
    if (WELL_KNOWN_AUTH_PATHS.test(req.path)) router(req, res, next);
    else next();
  };

/**
 * Our steps, then the plugin's routes, as one handler that runs them as upstream's express router of them does: an
 * error from a step skips the plugin's routes and their error handlers to `errorHandler`, as does one the plugin's
 * own handlers pass on; `next('route')` goes on, `next('router')` leaves. Each step calls `next` once and returns
 * no promise. A loop rather than a router of routers, so that a request walks no express layers of ours.
 */
function composePluginRouter(
  steps: RequestHandler[],
  pluginRoutes: RequestHandler,
  errorHandler: ErrorRequestHandler,
): RequestHandler {
  const handlers = [...steps.filter(step => step !== passThrough), pluginRoutes];
  const answerError: ErrorRequestHandler = (error, req, res, done) => {
    try {
      errorHandler(error, req, res, done);
    } catch (thrown) {
      done(thrown);
    }
  };
  return function pluginRouter(req, res, done) {
    let index = 0;
    const next = (error?: unknown): void => {
      if (error === 'router') return done();
      if (error && error !== 'route') return answerError(error, req, res, done);
      if (index === handlers.length) return done();
      try {
        handlers[index++](req, res, next);
      } catch (thrown) {
        answerError(thrown, req, res, done);
      }
    };
    next();
  };
}

function createHttpRouterServiceFactory(
  options?: HttpRouterFactoryOptions,
): ServiceFactory<HttpRouterService, 'plugin', 'singleton'> {
  const getPath = options?.getPath ?? ((pluginId: string) => `/api/${pluginId}`);
  return createServiceFactory({
    service: coreServices.httpRouter,
    initialization: 'always',
    deps: {
      plugin: coreServices.pluginMetadata,
      config: coreServices.rootConfig,
      lifecycle: coreServices.lifecycle,
      rootHttpRouter: coreServices.rootHttpRouter,
      auth: coreServices.auth,
      httpAuth: coreServices.httpAuth,
      logger: coreServices.logger,
      metricsService: optionalMetricsServiceRef,
      rateLimitContext: rateLimitContextServiceRef,
    },
    // Once per backend: bad config fails once, warnings log once, all-plugins budgets and sockets are shared.
    createRootContext({ rateLimitContext }) {
      const rateLimit = rateLimitContext.get();
      const limit = rateLimit.settings.global?.webSocketConnectionLimit;
      const connectionCounters: ConnectionCounter[] = [];
      if (limit !== undefined)
        connectionCounters.push({ limit, scope: 'across all plugins', open: new Map() });
      return { rateLimit, connectionCounters, shutdownWarning: { logged: false } };
    },
    async factory(deps, { rateLimit, connectionCounters, shutdownWarning }) {
      const { plugin, config, lifecycle, rootHttpRouter, auth, httpAuth, logger } = deps;
      const pluginId = plugin.getId();
      const mountPath = getPath(pluginId);
      if (typeof mountPath !== 'string' || !mountPath.startsWith('/')) {
        const expected = `expected getPath('${pluginId}') to return a path starting with '/', got`;
        throw new HttpRouterConfigError('getPath', `${expected} ${describeValue(mountPath)}`);
      }
      const metrics = createHttpRouterMetrics({ meter: deps.metricsService, pluginId });
      const barrier = createCredentialsBarrier({
        ...{ httpAuth, config, pluginId, logger, lifecycle },
        metrics: metrics.credentialsBarrier,
      });
      const rateLimitStep = createRateLimitHandler(rateLimit, {
        ...{ pluginId, logger, lifecycle, httpAuth, mountPath, metrics },
        // Verifies credentials as the barrier will for the path, so httpAuth's per-request cache answers it.
        lookupAccess: barrier.lookupAccess,
        countsAllPlugins: true,
      });
      const lifecycleGate = createLifecycleMiddleware({
        ...{ config, lifecycle, logger, shutdownWarning },
        metrics: metrics.lifecycleGate,
      });
      // Fails the start-up when Redis refuses the configured database, rather than counting elsewhere.
      await rateLimit.verifyRedis();
      const pluginRoutes = Router();
      const errorHandler = createErrorHandler({ logger });
      const steps = [
        rateLimitStep,
        onlyForAuthPaths(createAuthIntegrationRouter({ auth })),
        lifecycleGate,
        barrier.middleware,
        onlyForAuthPaths(createCookieAuthRefreshMiddleware({ auth, httpAuth })),
      ];
      rootHttpRouter.use(mountPath, composePluginRouter(steps, pluginRoutes, errorHandler));

      const service = {
        use(handler: Handler) {
          const handlers: unknown[] = [handler].flat(Infinity);
          const refused = handlers.findIndex(item => typeof item !== 'function');
          if (handlers.length === 0 || refused >= 0) {
            const got = refused < 0 ? 'an empty array' : describeValue(handlers[refused]);
            const expects = `httpRouter.use() of plugin '${pluginId}' expects a request handler function`;
            throw new TypeError(`${expects} (or an array of them), got ${got}`);
          }
          pluginRoutes.use(handlers as Handler[]);
        },
        addAuthPolicy: barrier.addAuthPolicy,
      } as HttpRouterService;
      // Absent before Backstage 0.19, as upstream's, so that plugins which feature-detect it keep their fallback.
      const root = rootHttpRouter as Partial<RootWebSocketRouter>;
      if (typeof root.addWebSocketHandler !== 'function') return service;
      const limit = rateLimit.settings.plugins[pluginId]?.webSocketConnectionLimit;
      const counters = [...connectionCounters];
      const scope = `in plugin '${pluginId}'`;
      if (limit !== undefined) counters.push({ limit, scope, open: new Map() });
      const addWebSocketHandler = createWebSocketRoutes({
        ...{ pluginId, mountPath, auth, config, lifecycleGate, errorHandler },
        rootHttpRouter: root as RootWebSocketRouter,
        ...{ rateLimit: rateLimitStep, connectionCounters: counters, metrics: metrics.webSockets },
      });
      return Object.assign(service, { addWebSocketHandler });
    },
  });
}

/**
 * The `httpRouter` service, a drop-in replacement for upstream's: bare, or called with options.
 * @remarks
 * Each plugin's router rate-limits, serves the auth routes, gates on the lifecycle, checks credentials against
 * its auth policies, then runs the plugin's handlers. From Backstage 0.19, `addWebSocketHandler` puts upgrades
 * through the same checks and `webSocketConnectionLimit`; before, the method is absent.
 * @public
 */
export const httpRouterServiceFactory = Object.assign(
  createHttpRouterServiceFactory,
  createHttpRouterServiceFactory(),
);
