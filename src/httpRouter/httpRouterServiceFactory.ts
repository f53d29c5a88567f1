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
    // Once per backend: bad config fails once, warnings log once, all-plugins budgets and sockets are shared.
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
