import {
  coreServices,
  createServiceFactory,
  type HttpRouterService,
  type ServiceFactory,
} from '@backstage/backend-plugin-api';
import { createPluginHttpRouter } from './createPluginHttpRouter';
import { createConnectionCounter } from './connectionLimit';
import { optionalMetricsServiceRef } from '../metrics';
import { rateLimitContextServiceRef } from '../rateLimit/context';

/**
 * Options for {@link httpRouterServiceFactory}.
 *
 * @public
 */
export interface HttpRouterFactoryOptions {
  /** Where a plugin's router is mounted on the root router. Defaults to `/api/<pluginId>`. */
  getPath?(pluginId: string): string;
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
      rateLimitContext: rateLimitContextServiceRef,
    },
    // `backend.rateLimit` is read once per backend: bad config fails once, each warning is logged once, and the
    // all-plugins per-principal budgets and open WebSocket counts are shared by every plugin router.
    createRootContext({ rateLimitContext }) {
      const rateLimit = rateLimitContext.get();
      const limit = rateLimit.settings.global?.webSocketConnectionLimit;
      const connectionCounters =
        limit === undefined ? [] : [createConnectionCounter(limit, 'across all plugins')];
      return { rateLimit, connectionCounters, shutdownWarning: { logged: false } };
    },
    factory({ rateLimitContext: _context, ...deps }, rootContext) {
      return createPluginHttpRouter({ ...deps, ...rootContext, getPath });
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
 * When the root router routes WebSocket upgrades (Backstage 0.19 on), `addWebSocketHandler` registers exact paths
 * under the mount path; each upgrade passes the rate limits, the lifecycle gate, token authentication and
 * `webSocketConnectionLimit` before the plugin's handler gets the socket. Without it, the method is absent.
 *
 * @public
 */
export const httpRouterServiceFactory = Object.assign(
  createHttpRouterServiceFactory,
  createHttpRouterServiceFactory(),
);
