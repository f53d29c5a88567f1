import {
  rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory,
  type RootHttpRouterConfigureContext,
  type RootHttpRouterFactoryOptions,
} from '@backstage/backend-defaults/rootHttpRouter';
import type { RootHttpRouterService, ServiceFactory } from '@backstage/backend-plugin-api';
import type { RequestHandler } from 'express';
import { RootRateLimitNotAppliedError } from '../errors';
import { passThrough } from '../middleware/passThrough';
import { createRateLimitMiddleware } from '../rateLimit/createRateLimitMiddleware';

/** Each backend's all-plugins limiter, keyed by its root config; weak, so a stopped backend is forgotten. */
const allPluginsLimiters = new WeakMap<object, RequestHandler>();

/**
 * The upgrade step that runs the all-plugins limiter of the backend whose root config is `backend`. Upstream's
 * root router skips its app's middleware for upgrades; an upgrade hook there would remove this.
 */
export function createAllPluginsLimitStep(backend: object): RequestHandler {
  return function allPluginsLimit(req, res, next) {
    (allPluginsLimiters.get(backend) ?? passThrough)(req, res, next);
  };
}

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
    const limiter = createRateLimitMiddleware({ config, logger, lifecycle });
    allPluginsLimiters.set(config, limiter);
    return limiter;
  };
  return {
    ...context,
    applyDefaults() {
      built = false;
      context.applyDefaults();
      if (!built && config.has('backend.rateLimit')) throw new RootRateLimitNotAppliedError();
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
