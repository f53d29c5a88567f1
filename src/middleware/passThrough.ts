import type { RequestHandler } from 'express';

/**
 * The handler of a layer that is switched off: it passes every request on.
 *
 * @remarks
 * One shared instance, so that the factory can leave a switched-off layer out of a plugin's chain altogether.
 *
 * @internal
 */
export const passThrough: RequestHandler = function passThrough(_req, _res, next) {
  next();
};
