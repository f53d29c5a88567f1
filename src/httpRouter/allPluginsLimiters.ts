import type { RequestHandler } from 'express';

/**
 * The all-plugins limiter each backend's root router put in place, keyed by the backend's root config (the one
 * object its root and plugin routers share); weak, so that a stopped backend is forgotten.
 */
const limiters = new WeakMap<object, RequestHandler>();

/**
 * Records the all-plugins limiter of the backend whose root config is `backend`.
 *
 * @internal
 */
export function setAllPluginsLimiter(backend: object, limiter: RequestHandler): void {
  limiters.set(backend, limiter);
}

/**
 * An upgrade step that counts the upgrade in the backend's all-plugins limiter, as the root app counts a request.
 *
 * @remarks
 * Upstream's root router hands upgrades to their route without the root app's middleware, so the limiter would
 * never see them. Looked up per upgrade: the root router builds its limiter when its `configure` runs. An
 * upgrade-aware middleware hook on the root router would remove this.
 *
 * @param backend - The backend's root config.
 * @internal
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
