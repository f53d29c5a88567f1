import {
  coreServices,
  createServiceFactory,
  type HttpRouterService,
  type ServiceFactory,
} from '@backstage/backend-plugin-api';
import type { Handler } from 'express';
import { describeValue, HttpRouterConfigError } from './errors';
import { createAuthIntegrationRouter } from './middleware/createAuthIntegrationRouter';
import { createHandlerChain } from './middleware/createHandlerChain';
import { onlyUnderPath } from './middleware/onlyUnderPath';
import { passThrough } from './middleware/passThrough';
import { createCookieAuthRefreshMiddleware } from './middleware/createCookieAuthRefreshMiddleware';
import { createCredentialsBarrier } from './middleware/createCredentialsBarrier';
import { createErrorHandler } from './middleware/createErrorHandler';
import { createLifecycleMiddleware } from './middleware/createLifecycleMiddleware';
import { createRateLimitMiddleware } from './rateLimit/createRateLimitMiddleware';

/**
 * Options for {@link httpRouterServiceFactory}.
 *
 * @public
 */
export interface HttpRouterFactoryOptions {
  /** Where a plugin's router is mounted on the root router. Defaults to `/api/<pluginId>`. */
  getPath?(pluginId: string): string;
}

/** The lower-cased prefix of the auth integration and cookie routes; no other request can reach them. */
const AUTH_ROUTES_PREFIX = '/.backstage/auth/v1/';

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
    deps: {
      plugin: coreServices.pluginMetadata,
      config: coreServices.rootConfig,
      lifecycle: coreServices.lifecycle,
      rootHttpRouter: coreServices.rootHttpRouter,
      auth: coreServices.auth,
      httpAuth: coreServices.httpAuth,
      logger: coreServices.logger,
    },
    async factory({ plugin, config, lifecycle, rootHttpRouter, auth, httpAuth, logger }) {
      const pluginId = plugin.getId();
      const credentialsBarrier = createCredentialsBarrier({
        httpAuth,
        config,
        pluginId,
        logger,
        lifecycle,
      });

      // One handler runs the whole chain, the plugin's own handlers included, instead of a router with a layer
      // (and two nested routers) per step and a router for the plugin's handlers: same order and behaviour, fewer
      // layers for every request to cross. Switched-off steps are left out.
      const steps = [
        createRateLimitMiddleware({ pluginId, config, logger, lifecycle }),
        onlyUnderPath(AUTH_ROUTES_PREFIX, createAuthIntegrationRouter({ auth })),
        createLifecycleMiddleware({ config, lifecycle }),
        credentialsBarrier.middleware,
        onlyUnderPath(AUTH_ROUTES_PREFIX, createCookieAuthRefreshMiddleware({ auth, httpAuth })),
      ].filter(step => step !== passThrough);
      const chain = createHandlerChain(steps, createErrorHandler({ logger }));
      rootHttpRouter.use(readMountPath(getPath, pluginId), chain.handle);

      return {
        use(handler: Handler) {
          for (const step of readHandlers(pluginId, handler)) {
            chain.use(step);
          }
        },
        addAuthPolicy(policy) {
          credentialsBarrier.addAuthPolicy(policy);
        },
      };
    },
  });
}

/**
 * The `httpRouter` service: a drop-in replacement for the one in `@backstage/backend-defaults`.
 *
 * @remarks
 * Mounts one promise-aware router per plugin at `/api/<pluginId>` (see {@link HttpRouterFactoryOptions}) that
 * applies, in order: rate limiting ({@link createRateLimitMiddleware}), the auth integration routes
 * ({@link createAuthIntegrationRouter}), the lifecycle gate ({@link createLifecycleMiddleware}), the
 * credentials barrier ({@link createCredentialsBarrier}), the cookie refresh routes
 * ({@link createCookieAuthRefreshMiddleware}), the plugin's own routes and an error handler. Use it bare,
 * `backend.add(httpRouterServiceFactory)`, or with options, `backend.add(httpRouterServiceFactory({ getPath }))`.
 *
 * @public
 */
export const httpRouterServiceFactory = Object.assign(
  createHttpRouterServiceFactory,
  createHttpRouterServiceFactory(),
);
