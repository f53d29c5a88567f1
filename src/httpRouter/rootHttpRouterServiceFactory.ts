import {
  rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory,
  type RootHttpRouterConfigureContext,
  type RootHttpRouterFactoryOptions,
} from '@backstage/backend-defaults/rootHttpRouter';
import type { RootHttpRouterService, ServiceFactory } from '@backstage/backend-plugin-api';
import { RootRateLimitNotAppliedError } from '../errors';
import { RATE_LIMIT_CONFIG_KEY } from '../rateLimit/config';
import { createAllPluginsLimiter } from '../rateLimit/createRateLimitMiddleware';

/**
 * Makes `middleware.rateLimit()` give our all-plugins limiter, and `applyDefaults()` fail without it. Upstream's
 * `applyDefaults()` calls it on the instance it hands to `configure`: shadowing that one method keeps every other
 * default as Backstage applies it. A limiter option on upstream's factory would remove this.
 */
export function withOurRateLimit(
  context: RootHttpRouterConfigureContext,
): RootHttpRouterConfigureContext {
  const { config, logger, lifecycle, middleware } = context;
  let built = false;
  middleware.rateLimit = function rateLimit() {
    built = true;
    return createAllPluginsLimiter({ config, logger, lifecycle });
  };
  return {
    ...context,
    applyDefaults() {
      built = false;
      context.applyDefaults();
      if (!built && config.has(RATE_LIMIT_CONFIG_KEY)) throw new RootRateLimitNotAppliedError();
    },
  };
}

function createRootHttpRouterServiceFactory(
  options?: RootHttpRouterFactoryOptions,
): ServiceFactory<RootHttpRouterService, 'root', 'singleton'> {
  const configure = options?.configure ?? (context => context.applyDefaults());
  return upstreamRootHttpRouterServiceFactory({
    ...options,
    configure: context => configure(withOurRateLimit(context)),
  });
}

/**
 * Backstage's root HTTP router service factory, same options, bare or called, with this package's all-plugins
 * rate limiter in place of Backstage's in `middleware.rateLimit()` and so in `applyDefaults()`.
 * @public
 */
export const rootHttpRouterServiceFactory = Object.assign(
  createRootHttpRouterServiceFactory,
  createRootHttpRouterServiceFactory(),
);
