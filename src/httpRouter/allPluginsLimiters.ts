import type { RequestHandler } from 'express';

/** Each backend's all-plugins limiter, keyed by its root config; weak, so a stopped backend is forgotten. */
const limiters = new WeakMap<object, RequestHandler>();

/** Records the all-plugins limiter of the backend whose root config is `backend`. */
export function setAllPluginsLimiter(backend: object, limiter: RequestHandler): void {
  limiters.set(backend, limiter);
}

/**
 * An upgrade step that counts the upgrade in its backend's all-plugins limiter, looked up per upgrade. Upstream's
 * root router skips its app's middleware for upgrades; an upgrade hook there would remove this.
 */
export function createAllPluginsLimitStep(backend: object): RequestHandler {
  return function allPluginsLimit(req, res, next) {
    const limiter = limiters.get(backend);
    if (limiter) {
      limiter(req, res, next);
    } else {
      next();
    }
  };
}
