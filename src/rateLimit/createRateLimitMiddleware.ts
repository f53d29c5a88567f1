import type { RootConfigService } from '@backstage/backend-plugin-api';
import type { RequestHandler } from 'express';

/**
 * Options for {@link createRateLimitMiddleware}.
 *
 * @public
 */
export interface RateLimitMiddlewareOptions {
  /** The plugin whose router the limiter guards; leave out for the all-plugins limiter. */
  pluginId?: string;
  /** The root config; `backend.rateLimit` is read from it. */
  config: RootConfigService;
}

/**
 * Creates the rate-limit middleware for one plugin, or for all plugins when `pluginId` is left out.
 *
 * @remarks
 * Not implemented yet: a pass-through.
 *
 * @public
 */
export function createRateLimitMiddleware(_options: RateLimitMiddlewareOptions): RequestHandler {
  return function rateLimitOff(_req, _res, next) {
    next();
  };
}
