import {
  rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory,
  type RootHttpRouterConfigureContext,
  type RootHttpRouterFactoryOptions,
} from '@backstage/backend-defaults/rootHttpRouter';
import type { RootHttpRouterService, ServiceFactory } from '@backstage/backend-plugin-api';
import { RootRateLimitNotAppliedError } from '../errors';
import { setAllPluginsLimiter } from './allPluginsLimiters';
import { createRateLimitMiddleware } from '../rateLimit/createRateLimitMiddleware';

/**
 * Makes `context.middleware.rateLimit()` return our all-plugins limiter, and returns the context a `configure`
 * function receives, whose `applyDefaults()` fails loudly if the defaults did not use it.
 *
 * @remarks
 * Upstream's `applyDefaults()` is a closure over the very `MiddlewareFactory` instance it hands to `configure` as
 * `context.middleware`, and it calls `middleware.rateLimit()` on it. Shadowing that one public method with an own
 * property of this instance (created by this factory call, for this router alone; the class and its other
 * instances are untouched) is the only public way to keep every other default (helmet, CORS, compression,
 * logging, health routes, `backend.server.*` timeouts, `trust proxy`, and whatever later versions add) exactly as
 * Backstage applies it, in its order, without copying `applyDefaults()`. Upstream's limiter is then never built, so
 * its Redis client never connects. If `rootHttpRouterServiceFactory` accepted the limiter as an option (or
 * `applyDefaults()` read the middleware from the context it passes), this function would be unnecessary.
 *
 * @internal
 */
export function withOurRateLimit(
  context: RootHttpRouterConfigureContext,
): RootHttpRouterConfigureContext {
  const { config, logger, lifecycle, middleware } = context;
  let built = false;
  middleware.rateLimit = function rateLimit() {
    built = true;
    const limiter = createRateLimitMiddleware({ config, logger, lifecycle });
    // WebSocket upgrades bypass the root app: the plugin routers run this limiter on them.
    setAllPluginsLimiter(config, limiter);
    return limiter;
  };
  return {
    ...context,
    applyDefaults() {
      built = false;
      context.applyDefaults();
      if (!built && config.has('backend.rateLimit')) {
        throw new RootRateLimitNotAppliedError();
      }
    },
  };
}

function applyDefaultsOnly({ applyDefaults }: RootHttpRouterConfigureContext): void {
  applyDefaults();
}

function createRootHttpRouterServiceFactory(
  options?: RootHttpRouterFactoryOptions,
): ServiceFactory<RootHttpRouterService, 'root', 'singleton'> {
  const configure = options?.configure ?? applyDefaultsOnly;
  return upstreamRootHttpRouterServiceFactory({
    ...options,
    configure(context) {
      configure(withOurRateLimit(context));
    },
  });
}

/**
 * Backstage's root HTTP router service factory, with this package's all-plugins rate limiter in place of
 * Backstage's.
 *
 * @remarks
 * It is `rootHttpRouterServiceFactory` of `@backstage/backend-defaults/rootHttpRouter`, with the same options
 * (`indexPath`, `configure`), usable bare or called. Everything it does is Backstage's, except that
 * `middleware.rateLimit()`, and so `applyDefaults()`, gives {@link createRateLimitMiddleware}'s all-plugins
 * limiter (top-level `backend.rateLimit` keys, our defaults, bounded Redis waits) instead of upstream's. A
 * `configure` of your own receives that context unchanged otherwise. Add it next to
 * {@link httpRouterServiceFactory}.
 *
 * @public
 */
export const rootHttpRouterServiceFactory = Object.assign(
  createRootHttpRouterServiceFactory,
  createRootHttpRouterServiceFactory(),
);
